package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// settingRow is the Work 365 settings row: its key, the service user it points to, and when and by whom it last
// changed (every Dataverse row has modifiedon and modifiedby, which Dataverse sets itself).
type settingRow struct {
	id, userID     string
	modifiedOn     time.Time
	modifiedByID   string
	modifiedByName string
}

// serviceUserSetting reads the Work 365 settings row through the schema discovered for the environment: its key
// column, the lookup's read-only value column (_<lookup>_value), and modifiedon and _modifiedby_value, with the
// modifier's name as the formatted value of the lookup.
func (r *reader) serviceUserSetting(ctx context.Context, s *snapshot.Schema) (settingRow, error) {
	stage := s.EntitySet
	q := api.Query(s.EntitySet, [2]string{"$select", s.PrimaryID + "," + s.ValueColumn() + ",modifiedon,_modifiedby_value"})
	var out settingRow
	found := false
	err := list(ctx, r.formatted(), stage, q, func(row map[string]json.RawMessage) error {
		if found {
			return nil
		}
		found = true
		out.id = stringValue(row[s.PrimaryID])
		out.userID = stringValue(row[s.ValueColumn()])
		// A time that does not parse leaves the change undated rather than the environment unread: it is part
		// of the audit record, not of any rule.
		out.modifiedOn, _ = time.Parse(time.RFC3339, stringValue(row["modifiedon"]))
		out.modifiedByID = stringValue(row["_modifiedby_value"])
		out.modifiedByName = stringValue(row["_modifiedby_value"+api.FormattedValueSuffix])
		return nil
	})
	if err != nil && api.IsNotFound(err) {
		return out, fmt.Errorf("%w — Work 365 is installed but its settings table's entity set %q was not found: check work365.settings_table and settings_entity_set in the config", err, s.EntitySet)
	}
	return out, err
}

// modified is the settings row's last change as the snapshot records it, or nothing when unknown.
func (s settingRow) modified() (time.Time, *snapshot.Reference) {
	var by *snapshot.Reference
	if s.modifiedByID != "" {
		by = &snapshot.Reference{ID: s.modifiedByID, Name: s.modifiedByName}
	}
	return s.modifiedOn.UTC(), by
}

// stringValue reads a JSON string that may be null or absent as "".
func stringValue(raw json.RawMessage) string {
	var v *string
	if json.Unmarshal(raw, &v) != nil || v == nil {
		return ""
	}
	return *v
}
