// Package cloud holds the endpoints of the Microsoft clouds Power Platform runs in.
package cloud

import (
	"fmt"
	"sort"
	"strings"
)

// Endpoints are the hosts and scopes the auditor talks to in one cloud.
type Endpoints struct {
	Name             string
	Description      string
	AuthorityHost    string   // Entra ID; the tenant ID is appended
	BAPURL           string   // BAP admin API base
	BAPScope         string   // token scope for BAP
	DataverseDomains []string // host suffixes of Dataverse instance URLs in this cloud (informational)
}

// Presets are the named clouds, from Microsoft's Power Platform Terraform provider (internal/constants).
var Presets = map[string]Endpoints{
	"public": {
		Name: "public", Description: "Commercial cloud",
		AuthorityHost: "https://login.microsoftonline.com", BAPURL: "https://api.bap.microsoft.com",
		BAPScope: "https://service.powerapps.com/.default", DataverseDomains: []string{"dynamics.com"},
	},
	"gcc": {
		Name: "gcc", Description: "US Government Community Cloud (GCC)",
		AuthorityHost: "https://login.microsoftonline.com", BAPURL: "https://gov.api.bap.microsoft.us",
		BAPScope: "https://service.powerapps.us/.default", DataverseDomains: []string{"crm9.dynamics.com"},
	},
	"gcchigh": {
		Name: "gcchigh", Description: "US Government Community Cloud High (GCC High)",
		AuthorityHost: "https://login.microsoftonline.us", BAPURL: "https://high.api.bap.microsoft.us",
		BAPScope: "https://high.service.apps.appsplatform.us/.default", DataverseDomains: []string{"crm.microsoftdynamics.us"},
	},
	"dod": {
		Name: "dod", Description: "US Department of Defense (DoD)",
		AuthorityHost: "https://login.microsoftonline.us", BAPURL: "https://api.bap.appsplatform.us",
		BAPScope: "https://service.apps.appsplatform.us/.default", DataverseDomains: []string{"crm.appsplatform.us"},
	},
	"china": {
		Name: "china", Description: "Microsoft Cloud China (operated by 21Vianet)",
		AuthorityHost: "https://login.chinacloudapi.cn", BAPURL: "https://api.bap.partner.microsoftonline.cn",
		BAPScope: "https://service.powerapps.cn/.default", DataverseDomains: []string{"crm.dynamics.cn"},
	},
}

// Lookup returns the preset named name ("" means public).
func Lookup(name string) (Endpoints, error) {
	if name == "" {
		name = "public"
	}
	e, ok := Presets[strings.ToLower(name)]
	if !ok {
		return Endpoints{}, fmt.Errorf("unknown cloud %q: use one of %s, or set authority, bap and bap_scope", name, strings.Join(Names(), ", "))
	}
	return e, nil
}

// Names lists the preset names in order.
func Names() []string {
	names := make([]string, 0, len(Presets))
	for n := range Presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
