package snapshot

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary files to the snapshot loader: it must never panic, and a snapshot it accepts must
// survive a round trip unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"schema_version":1,"tool":{"name":"audit","version":"dev"},"collected_at":"2026-11-26T12:00:00Z","settings":{"solution_name":"Work365","app_ids":null,"role_names":null,"lookback_days":7,"settings_table":"","service_user_attribute":""},"tenants":[{"name":"contoso","id":"x","environments":[{"id":"1","name":"A","type":"Production","region":"unitedstates","has_dataverse":true,"status":"ok","dataverse":{"work365":{"installed":true,"version":"3.6"},"application_users":[],"service_user":{"configured":false},"service_role_holders":[],"failed_jobs":{"lookback_days":7,"since":"2026-11-19T12:00:00Z","count":0,"recent":[]},"flows":[],"connection_references":[],"email_templates":[]}}]}]}`))
	f.Add([]byte(`{"schema_version":2}`))
	f.Add([]byte(`{"schema_version":1,"tenants":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Encode(&buf, s); err != nil {
			t.Fatalf("encode an accepted snapshot: %v", err)
		}
		again, err := Decode(&buf)
		if err != nil {
			t.Fatalf("decode a re-encoded snapshot: %v", err)
		}
		if !reflect.DeepEqual(s, again) {
			t.Fatalf("round trip changed the snapshot")
		}
	})
}
