package collect

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// settingRow is the Work 365 settings row: its key and the service user it points to.
type settingRow struct {
	id, userID string
}

// serviceUserSetting reads the Work 365 settings row through the schema discovered for the environment: its key
// column and the lookup's read-only value column, _<lookup>_value.
func (r *reader) serviceUserSetting(ctx context.Context, s *snapshot.Schema) (settingRow, error) {
	stage := s.EntitySet
	q := api.Query(s.EntitySet, [2]string{"$select", s.PrimaryID + "," + s.ValueColumn()})
	var out settingRow
	found := false
	err := list(ctx, r, stage, q, func(row map[string]json.RawMessage) error {
		if found {
			return nil
		}
		found = true
		out.id = stringValue(row[s.PrimaryID])
		out.userID = stringValue(row[s.ValueColumn()])
		return nil
	})
	if err != nil && api.IsNotFound(err) {
		return out, fmt.Errorf("%w — Work 365 is installed but its settings table's entity set %q was not found: check work365.settings_table and settings_entity_set in the config", err, s.EntitySet)
	}
	return out, err
}

// stringValue reads a JSON string that may be null or absent as "".
func stringValue(raw json.RawMessage) string {
	var v *string
	if json.Unmarshal(raw, &v) != nil || v == nil {
		return ""
	}
	return *v
}
