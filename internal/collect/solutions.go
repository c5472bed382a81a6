package collect

import (
	"context"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// wireSolution is a solutions row.
type wireSolution struct {
	UniqueName   string `json:"uniquename"`
	FriendlyName string `json:"friendlyname"`
	Version      string `json:"version"`
	IsManaged    bool   `json:"ismanaged"`
	InstalledOn  string `json:"installedon"`
}

// solution reads the Work 365 solution; Installed is false when the organization does not have it.
func (r *reader) solution(ctx context.Context) (snapshot.Solution, error) {
	q := api.Query("solutions",
		[2]string{"$select", "solutionid,uniquename,friendlyname,version,ismanaged,installedon"},
		[2]string{"$filter", "uniquename eq " + api.Quote(r.c.opts.SolutionName)})
	var out snapshot.Solution
	err := list(ctx, r, "solutions", q, func(s wireSolution) error {
		if !out.Installed {
			out = snapshot.Solution{Installed: true, UniqueName: s.UniqueName, FriendlyName: s.FriendlyName,
				Version: s.Version, Managed: s.IsManaged, InstalledOn: s.InstalledOn}
		}
		return nil
	})
	return out, err
}
