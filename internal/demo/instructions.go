package demo

import (
	"fmt"
	"strings"

	"github.com/work365/audit/internal/emulator"
)

// Instructions tells the user of a running emulator (audit emulator serve) where it listens, each
// organization's instance URL and token scope, and the config that scans it, with the CA written at caPath.
func Instructions(fx *emulator.Fixture, srv *emulator.Server, caPath string) string {
	clientID, secretHint := "", ""
	if len(fx.Clients) > 0 {
		clientID = fx.Clients[0].ClientID
		secretHint = "the secret of the fixture's first client"
	}
	return fmt.Sprintf(`Emulator for tenant %q is listening at %s
  Entra authority: %s
  BAP:             %s (scope %s)
  CA certificate:  %s
%s
Config for 'audit scan --config FILE':
  tenants:
    - name: %s
      tenant_id: %s
      client_id: %s
      client_secret_env: EMULATOR_SECRET   # %s
      authority: %s
      bap: %s
      bap_scope: %s

Then: SSL_CERT_FILE=%s EMULATOR_SECRET=... audit scan --config FILE
Press Ctrl-C to stop.
`, fx.Tenant.Name, srv.URL(), srv.Authority(), srv.BAPURL(), srv.BAPScope(), caPath, organizations(fx, srv),
		fx.Tenant.Name, srv.TenantID(), clientID, secretHint, srv.URL(), srv.BAPURL(), srv.BAPScope(), caPath)
}

// organizations lists each environment's Dataverse instance URL and token scope: every organization has its
// own origin, and a token for one opens no other.
func organizations(fx *emulator.Fixture, srv *emulator.Server) string {
	var b strings.Builder
	width := 0
	for _, e := range fx.Environments {
		width = max(width, len(e.Name))
	}
	b.WriteString("  Dataverse organizations (instance URL, token scope):\n")
	for _, e := range fx.Environments {
		if u := srv.InstanceURL(e.Name); u != "" {
			fmt.Fprintf(&b, "    %-*s  %s  %s\n", width, e.Name, u, srv.DataverseScope(e.Name))
		} else {
			fmt.Fprintf(&b, "    %-*s  (no Dataverse)\n", width, e.Name)
		}
	}
	return b.String()
}
