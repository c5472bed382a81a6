package collect

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// wireSolution is a solutions row with its publisher's unique name.
type wireSolution struct {
	UniqueName   string `json:"uniquename"`
	FriendlyName string `json:"friendlyname"`
	Version      string `json:"version"`
	IsManaged    bool   `json:"ismanaged"`
	InstalledOn  string `json:"installedon"`
	Publisher    *struct {
		UniqueName string `json:"uniquename"`
	} `json:"publisherid"`
}

func (w wireSolution) publisher() string {
	if w.Publisher == nil {
		return ""
	}
	return w.Publisher.UniqueName
}

// solution finds the Work 365 solution with one query: by the configured unique name, else by its friendly
// name or its publisher. Microsoft's guide warns that names vary by Work 365 version, so an installation under
// another unique name is found by the other two. Installed is false when none matches; Tried says what was
// looked for either way.
func (r *reader) solution(ctx context.Context) (snapshot.Solution, error) {
	o := r.c.opts
	var conds, tried []string
	add := func(cond, what string) {
		conds = append(conds, cond)
		tried = append(tried, what)
	}
	if o.SolutionName != "" {
		add("uniquename eq "+api.Quote(o.SolutionName), fmt.Sprintf("unique name %q", o.SolutionName))
	}
	if o.SolutionFriendlyName != "" {
		// String comparison in $filter is case-insensitive in Dataverse.
		add("friendlyname eq "+api.Quote(o.SolutionFriendlyName), fmt.Sprintf("friendly name %q", o.SolutionFriendlyName))
	}
	if o.Publisher != "" {
		add("publisherid/uniquename eq "+api.Quote(o.Publisher), fmt.Sprintf("publisher %q", o.Publisher))
	}
	out := snapshot.Solution{Tried: tried}
	if len(conds) == 0 {
		return out, nil
	}
	q := api.Query("solutions",
		[2]string{"$select", "solutionid,uniquename,friendlyname,version,ismanaged,installedon"},
		[2]string{"$filter", strings.Join(conds, " or ")},
		[2]string{"$expand", "publisherid($select=uniquename)"})
	var found []wireSolution
	if err := list(ctx, r, "solutions", q, func(s wireSolution) error { found = append(found, s); return nil }); err != nil {
		return out, err
	}
	best, by := pickSolution(found, o.SolutionName, o.SolutionFriendlyName, o.Publisher)
	if best == nil {
		return out, nil
	}
	return snapshot.Solution{Installed: true, UniqueName: best.UniqueName, FriendlyName: best.FriendlyName, Version: best.Version,
		Managed: best.IsManaged, InstalledOn: best.InstalledOn, Publisher: best.publisher(), MatchedBy: by, Tried: tried}, nil
}

// pickSolution prefers a match by unique name, then by friendly name, then by publisher. A publisher may ship
// several solutions (a base and add-ons); among them, one whose friendly name mentions Work 365 comes first,
// then the earliest installed, which is the base the others extend (undocumented: our choice).
func pickSolution(found []wireSolution, unique, friendly, publisher string) (*wireSolution, string) {
	rank := func(s wireSolution) (int, string) {
		switch {
		case unique != "" && strings.EqualFold(s.UniqueName, unique):
			return 0, snapshot.MatchUniqueName
		case friendly != "" && strings.EqualFold(s.FriendlyName, friendly):
			return 1, snapshot.MatchFriendlyName
		case publisher != "" && strings.EqualFold(s.publisher(), publisher):
			return 2, snapshot.MatchPublisher
		}
		return 3, ""
	}
	mentions := func(s wireSolution) bool {
		return friendly != "" && strings.Contains(strings.ToLower(s.FriendlyName), strings.ToLower(friendly))
	}
	sort.SliceStable(found, func(i, j int) bool {
		a, _ := rank(found[i])
		b, _ := rank(found[j])
		if a != b {
			return a < b
		}
		if mentions(found[i]) != mentions(found[j]) {
			return mentions(found[i])
		}
		if found[i].InstalledOn != found[j].InstalledOn {
			return found[i].InstalledOn < found[j].InstalledOn
		}
		return found[i].UniqueName < found[j].UniqueName
	})
	if len(found) == 0 {
		return nil, ""
	}
	if n, by := rank(found[0]); n < 3 {
		return &found[0], by
	}
	return nil, ""
}

// work365Tables lists the custom tables named with Work 365's prefix, for an environment where no Work 365
// solution was found. Metadata queries are not paged; $filter on EntityDefinitions supports comparisons of
// properties like IsCustomEntity but not string functions, so the prefix is matched here.
func (r *reader) work365Tables(ctx context.Context) ([]string, error) {
	prefix := strings.ToLower(r.c.opts.TablePrefix)
	if prefix == "" {
		return nil, nil
	}
	q := api.Query("EntityDefinitions", [2]string{"$select", "LogicalName"}, [2]string{"$filter", "IsCustomEntity eq true"})
	var out []string
	err := list(ctx, r, "EntityDefinitions (Work 365 tables)", q, func(e wireEntity) error {
		if strings.HasPrefix(strings.ToLower(e.LogicalName), prefix) {
			out = append(out, e.LogicalName)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}
