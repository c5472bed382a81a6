package collect

import (
	"context"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// wireBusinessUnit is a businessunits row.
type wireBusinessUnit struct {
	ID   string `json:"businessunitid"`
	Name string `json:"name"`
}

// rootBusinessUnit reads the business unit without a parent, where application users are created.
func (r *reader) rootBusinessUnit(ctx context.Context) (*snapshot.BusinessUnit, error) {
	q := api.Query("businessunits",
		[2]string{"$select", "businessunitid,name"},
		[2]string{"$filter", "_parentbusinessunitid_value eq null"})
	var root *snapshot.BusinessUnit
	err := list(ctx, r, "businessunits", q, func(b wireBusinessUnit) error {
		if root == nil {
			root = &snapshot.BusinessUnit{ID: b.ID, Name: b.Name}
		}
		return nil
	})
	return root, err
}
