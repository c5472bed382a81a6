package collect

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// bapAPIVersion is the version Microsoft's Power Platform Terraform provider uses.
const bapAPIVersion = "2023-06-01"

// bapMaxPages bounds the environment list against a nextLink that never ends.
const bapMaxPages = 1000

// bapEnvironment is one item of the BAP admin environment list (wire form).
type bapEnvironment struct {
	Name       string `json:"name"` // the environment GUID
	Location   string `json:"location"`
	Properties struct {
		DisplayName    string `json:"displayName"`
		AzureRegion    string `json:"azureRegion"`
		EnvironmentSku string `json:"environmentSku"`
		States         struct {
			Runtime struct {
				ID string `json:"id"`
			} `json:"runtime"`
		} `json:"states"`
		LinkedEnvironmentMetadata *struct {
			InstanceURL string `json:"instanceUrl"`
			Version     string `json:"version"`
			DomainName  string `json:"domainName"`
		} `json:"linkedEnvironmentMetadata"`
	} `json:"properties"`
}

type bapPage struct {
	Value    []bapEnvironment `json:"value"`
	NextLink string           `json:"nextLink"`
}

// listEnvironments reads the tenant's environments from the BAP admin API, following nextLink if present.
func (c *Collector) listEnvironments(ctx context.Context, client *api.Client, t Target, requests *tenantSlots) ([]snapshot.Environment, error) {
	base, err := url.Parse(strings.TrimSuffix(t.BAPURL, "/"))
	if err != nil || base.Scheme != "https" {
		return nil, fmt.Errorf("BAP URL %q is not an https URL", t.BAPURL)
	}
	next := base.String() + "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?api-version=" + bapAPIVersion
	var out []snapshot.Environment
	seen := map[string]bool{}
	for pages := 0; next != ""; pages++ {
		if pages >= bapMaxPages || seen[next] {
			return nil, fmt.Errorf("the environment list keeps sending nextLinks (%d pages): stopping", pages)
		}
		seen[next] = true
		var p bapPage
		rctx, done, err := hold(ctx, requests, nil)
		if err != nil {
			return nil, err
		}
		_, err = client.GetJSON(rctx, next, t.BAPScope, nil, &p)
		done()
		if err != nil {
			return nil, err
		}
		for _, e := range p.Value {
			out = append(out, toEnvironment(e))
		}
		if p.NextLink != "" {
			u, err := url.Parse(p.NextLink)
			if err != nil || u.Scheme != base.Scheme || !strings.EqualFold(u.Host, base.Host) {
				return nil, fmt.Errorf("the environment list sent a nextLink to another host (%s): refusing to send the token there", p.NextLink)
			}
		}
		next = p.NextLink
	}
	return out, nil
}

func toEnvironment(e bapEnvironment) snapshot.Environment {
	env := snapshot.Environment{
		ID:          e.Name,
		Name:        e.Properties.DisplayName,
		Type:        e.Properties.EnvironmentSku,
		Region:      e.Location,
		AzureRegion: e.Properties.AzureRegion,
		State:       e.Properties.States.Runtime.ID,
	}
	if env.Name == "" {
		env.Name = e.Name
	}
	if m := e.Properties.LinkedEnvironmentMetadata; m != nil && m.InstanceURL != "" {
		env.HasDataverse = true
		env.InstanceURL = m.InstanceURL
		env.DataverseVersion = m.Version
	}
	return env
}

// Environments lists a tenant's environments (all of them, before the target's filter), as BAP returns them.
func (c *Collector) Environments(ctx context.Context, t Target) ([]snapshot.Environment, error) {
	return c.listEnvironments(ctx, t.client(), t, c.requests.tenant(false))
}
