package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/work365/audit/internal/api"
)

// settingRow is the Work 365 settings row: its key and the service user it points to.
type settingRow struct {
	id, userID string
}

// serviceUserSetting reads the Work 365 settings row. Its table and lookup are configuration because
// Work 365 does not publish them; a missing table with Work 365 installed means the configuration is wrong.
func (r *reader) serviceUserSetting(ctx context.Context) (settingRow, error) {
	table := r.c.opts.SettingsTable
	lookup := "_" + r.c.opts.ServiceUserAttribute + "_value"
	q := api.Query(table, [2]string{"$select", lookup})
	var out settingRow
	found := false
	err := list(ctx, r, table, q, func(row map[string]json.RawMessage) error {
		if found {
			return nil
		}
		found = true
		out.id = rowKey(table, row)
		if raw, ok := row[lookup]; ok {
			var v *string
			if err := json.Unmarshal(raw, &v); err == nil && v != nil {
				out.userID = *v
			}
		}
		return nil
	})
	if err != nil && api.IsNotFound(err) {
		return out, fmt.Errorf("%w — Work 365 is installed but its settings table %q was not found: set work365.settings_table "+
			"(and work365.service_user_attribute) in the config to the names used by this Work 365 version", err, table)
	}
	return out, err
}

// rowKey finds a row's primary key: by convention the entity's logical name followed by "id".
func rowKey(entitySet string, row map[string]json.RawMessage) string {
	for _, k := range []string{strings.TrimSuffix(entitySet, "s") + "id", strings.TrimSuffix(entitySet, "es") + "id"} {
		var v string
		if raw, ok := row[k]; ok && json.Unmarshal(raw, &v) == nil {
			return v
		}
	}
	return ""
}
