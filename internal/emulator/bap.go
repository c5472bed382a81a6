package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const bapEnvironmentsPath = "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments"

var bapAPIVersions = map[string]bool{"2020-10-01": true, "2021-04-01": true, "2023-06-01": true}

func bapError(status int, code, message string) *response {
	body, _ := marshalJSON(map[string]any{"error": map[string]any{"code": code, "message": message}})
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	return &response{status: status, header: h, body: body}
}

func (s *Server) serveBAP(w http.ResponseWriter, r *http.Request) {
	_, end := s.begin(nil, false)
	defer end()

	path := strings.TrimSuffix(r.URL.Path, "/")
	envName, single := strings.CutPrefix(path, bapEnvironmentsPath+"/")
	if path != bapEnvironmentsPath && (!single || strings.Contains(envName, "/")) {
		bapError(http.StatusNotFound, "NotFound", fmt.Sprintf("The requested resource '%s' was not found.", r.URL.Path)).write(w)
		return
	}
	claims, failure := s.checkBearer(r, bapAudience, bapAltAudience)
	if failure != tokenOK {
		bapUnauthorized(failure).write(w)
		return
	}
	cc := s.clients[strings.ToLower(claims.AppID)]
	if cc == nil || !cc.adminApp {
		bapError(http.StatusForbidden, "Forbidden", fmt.Sprintf(
			"The service principal with id '%s' for application %s does not have permission to access the path '%s' in tenant %s. Register the application as a Power Platform admin management application (PUT /providers/Microsoft.BusinessAppPlatform/adminApplications/%s?api-version=2020-10-01) or grant it an admin role.",
			claims.OID, claims.AppID, r.URL.Path, s.tenant.ID, claims.AppID)).write(w)
		return
	}
	version := r.URL.Query().Get("api-version")
	if version == "" {
		bapError(http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.").write(w)
		return
	}
	if !bapAPIVersions[version] {
		bapError(http.StatusBadRequest, "InvalidApiVersionParameter", fmt.Sprintf("The api-version '%s' is invalid. The supported versions are '2020-10-01,2021-04-01,2023-06-01'.", version)).write(w)
		return
	}
	s.mu.Lock()
	faults := s.bapFaults
	s.mu.Unlock()
	if !sleep(r.Context(), s.opts.Latency+faults.latency) {
		return
	}
	if r.Method != http.MethodGet {
		bapError(http.StatusMethodNotAllowed, "MethodNotAllowed", fmt.Sprintf("The requested method '%s' is not supported by the emulator for '%s'.", r.Method, r.URL.Path)).write(w)
		return
	}
	rule := faults.pick(r.Method, "BAP")
	s.deliver(w, r, apiBAP, s.origin, rule, func() *response {
		if single {
			return s.bapEnvironment(envName)
		}
		return s.bapList(r)
	})
}

func bapUnauthorized(f tokenFailure) *response {
	var resp *response
	switch f {
	case tokenMissing:
		resp = bapError(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
	case tokenExpired:
		resp = bapError(http.StatusUnauthorized, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time.")
	case tokenWrongAudience:
		resp = bapError(http.StatusUnauthorized, "InvalidAuthenticationTokenAudience", "The access token has been obtained for wrong audience or resource. It should exactly match with one of the allowed audiences 'https://service.powerapps.com/','https://service.powerapps.com','https://api.bap.microsoft.com/','https://api.bap.microsoft.com'.")
	default:
		resp = bapError(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The access token is not valid.")
	}
	resp.header.Set("WWW-Authenticate", `Bearer authorization_uri="https://login.windows.net/", error="invalid_token"`)
	return resp
}

// visibleEnvironments lists the environments still present, in fixture order.
func (s *Server) visibleEnvironments() []*environment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*environment
	for _, e := range s.envs {
		if !e.removed {
			out = append(out, e)
		}
	}
	return out
}

func (s *Server) bapEnvironment(name string) *response {
	for _, e := range s.visibleEnvironments() {
		if strings.EqualFold(e.id, name) {
			return bapJSON(s.bapItem(e))
		}
	}
	return bapError(http.StatusNotFound, "EnvironmentNotFound", fmt.Sprintf("The environment '%s' could not be found in the tenant '%s'.", name, s.tenant.ID))
}

// bapList pages only when Options.MaxPageSize is set; the $skiptoken is the position after the last item sent.
func (s *Server) bapList(r *http.Request) *response {
	envs := s.visibleEnvironments()
	start := 0
	if tok := r.URL.Query().Get("$skiptoken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return bapError(http.StatusBadRequest, "InvalidSkipToken", "The $skiptoken is not valid.")
		}
		start = min(n, len(envs))
	}
	end := len(envs)
	if s.opts.MaxPageSize > 0 {
		end = min(end, start+s.opts.MaxPageSize)
	}
	items := make([]any, 0, end-start)
	for _, e := range envs[start:end] {
		items = append(items, s.bapItem(e))
	}
	doc := map[string]any{"value": items}
	if end < len(envs) {
		q := r.URL.Query()
		q.Set("$skiptoken", strconv.Itoa(end))
		doc["nextLink"] = s.origin + r.URL.Path + "?" + encodeQuery(q)
	}
	return bapJSON(doc)
}

// encodeQuery keeps "$" and "," readable, as the real services write their links.
func encodeQuery(q url.Values) string {
	return strings.NewReplacer("%24", "$", "%2C", ",").Replace(q.Encode())
}

func bapJSON(v any) *response {
	body, _ := marshalJSON(v)
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	return &response{status: http.StatusOK, header: h, body: body}
}

var regionByLocation = map[string]string{
	"unitedstates": "westus", "europe": "westeurope", "unitedkingdom": "uksouth", "canada": "canadacentral",
	"asia": "southeastasia", "australia": "australiaeast", "japan": "japaneast", "india": "centralindia",
	"france": "francecentral", "germany": "germanywestcentral", "switzerland": "switzerlandnorth",
}

var crmSuffixByLocation = map[string]string{
	"unitedstates": "crm", "southamerica": "crm2", "canada": "crm3", "europe": "crm4", "asia": "crm5",
	"australia": "crm6", "japan": "crm7", "india": "crm8", "unitedkingdom": "crm11", "france": "crm12",
}

// bapItem renders an environment like payloads/bap_list_environments_2023.json.
func (s *Server) bapItem(e *environment) map[string]any {
	fx := e.fixture
	location := strings.ToLower(fx.Location)
	if location == "" {
		location = "unitedstates"
	}
	region := fx.AzureRegion
	if region == "" {
		region = regionByLocation[location]
	}
	sku := fx.SKU
	if sku == "" {
		sku = "Production"
	}
	state := fx.State
	if state == "" {
		state = "Enabled"
	}
	created := "2024-01-15T08:02:36.1799125Z"
	props := map[string]any{
		"tenantId":          s.tenant.ID,
		"azureRegion":       region,
		"displayName":       fx.Name,
		"description":       "",
		"createdTime":       created,
		"createdBy":         map[string]any{"id": "SYSTEM", "displayName": "SYSTEM", "type": "NotSpecified"},
		"provisioningState": "Succeeded",
		"creationType":      "User",
		"environmentSku":    sku,
		"isDefault":         strings.EqualFold(sku, "Default"),
		"clientUris": map[string]any{
			"admin": "https://admin.powerplatform.microsoft.com/environments/environment/" + e.id + "/hub",
			"maker": "https://make.powerapps.com/environments/" + e.id + "/home",
		},
		"runtimeEndpoints": map[string]any{
			"microsoft.BusinessAppPlatform": "https://" + location + ".api.bap.microsoft.com",
			"microsoft.CommonDataModel":     "https://" + location + ".api.cds.microsoft.com",
			"microsoft.PowerApps":           "https://" + location + ".api.powerapps.com",
			"microsoft.Flow":                "https://" + location + ".api.flow.microsoft.com",
		},
		"databaseType":              "None",
		"linkedEnvironmentMetadata": nil,
		"trialScenarioType":         "None",
		"retentionPeriod":           "P7D",
		"states": map[string]any{
			"management": map[string]any{"id": "Ready"},
			"runtime":    map[string]any{"runtimeReasonCode": "NotSpecified", "requestedBy": map[string]any{"displayName": "SYSTEM", "type": "NotSpecified"}, "id": state},
		},
		"updateCadence":    map[string]any{"id": "Frequent"},
		"protectionStatus": map[string]any{"keyManagedBy": "Microsoft"},
		"connectedGroups":  []any{},
	}
	if e.store != nil {
		version := fx.Dataverse.Version
		if version == "" {
			version = "9.2.24101.00150"
		}
		instanceURL := s.instanceURL(e)
		props["databaseType"] = "CommonDataService"
		props["linkedEnvironmentMetadata"] = map[string]any{
			"resourceId":                e.store.orgID,
			"friendlyName":              fx.Name,
			"uniqueName":                e.domain,
			"domainName":                e.domain,
			"version":                   version,
			"instanceUrl":               instanceURL,
			"instanceApiUrl":            strings.TrimSuffix(instanceURL, "/"),
			"baseLanguage":              1033,
			"instanceState":             "Ready",
			"createdTime":               "2024-01-15T08:02:46.87Z",
			"backgroundOperationsState": "Enabled",
			"scaleGroup":                strings.ToUpper(crmSuffixByLocation[location]) + "LIVESG001",
			"platformSku":               "Standard",
			"schemaType":                "Standard",
		}
	}
	return map[string]any{
		"id":         bapEnvironmentsPath + "/" + e.id,
		"type":       "Microsoft.BusinessAppPlatform/scopes/environments",
		"location":   location,
		"name":       e.id,
		"properties": props,
	}
}
