package config

import (
	"testing"
)

// FuzzParse feeds arbitrary files to the config parser: it must never panic, and whatever it accepts must
// have valid tenants.
func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("tenants:\n  - name: a\n    tenant_idd: x\n"))
	f.Add([]byte("collect: {timeout: soon}\n"))
	f.Add([]byte("waivers: [{rule: '[', environment: x, expires: 2026-13-01}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			return
		}
		if len(c.Tenants) == 0 {
			t.Fatal("accepted a config without tenants")
		}
		for _, tn := range c.Tenants {
			if !IsGUID(tn.TenantID) || !IsGUID(tn.ClientID) {
				t.Fatalf("accepted tenant %q with IDs %q/%q", tn.Name, tn.TenantID, tn.ClientID)
			}
		}
	})
}
