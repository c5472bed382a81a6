package emulator

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseFixture feeds arbitrary fixtures to the loader: it must never panic.
func FuzzParseFixture(f *testing.F) {
	for _, name := range []string{"demo.yaml", "demo-fabrikam.yaml", "minimal.yaml"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "tenants", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("tenant: {id: x}\nenvironments: [{name: a, dataverse: {users: [{key: u, roles: [missing]}]}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseFixture(data, t.TempDir())
	})
}
