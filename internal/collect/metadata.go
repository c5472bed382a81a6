package collect

import (
	"context"
	"fmt"
	"strings"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// Work 365 does not publish where it keeps its service-user setting. The table and lookup are configuration
// (logical names, with documented defaults); their entity set and the lookup's navigation property are read
// from the environment's metadata (learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api),
// because neither can be derived from a logical name: the entity set is usually, not always, the plural, and
// writes must bind through the navigation property, whose name is case-sensitive and usually the lookup's
// schema name (w365_ServiceUserId), not its logical name (API.md §6; Microsoft's Python client fixed this bug in
// microsoft/PowerPlatform-DataverseClient-Python pull request 137).

// wireEntity is an EntityDefinitions item.
type wireEntity struct {
	LogicalName        string `json:"LogicalName"`
	EntitySetName      string `json:"EntitySetName"`
	PrimaryIDAttribute string `json:"PrimaryIdAttribute"`
}

// wireRelationship is a ManyToOneRelationships item.
type wireRelationship struct {
	ReferencingAttribute string `json:"ReferencingAttribute"`
	Navigation           string `json:"ReferencingEntityNavigationPropertyName"`
}

// schema finds the settings table and its lookup, sending at most two requests (none when both names are
// configured): the table's definition and the lookup's relationship, at once.
func (r *reader) schema(ctx context.Context) (*snapshot.Schema, error) {
	o := r.c.opts
	out := &snapshot.Schema{SettingsTable: o.SettingsTable, EntitySet: o.SettingsEntitySet, Lookup: o.ServiceUserLookup,
		Navigation: o.ServiceUserNavigation, PrimaryID: strings.ToLower(o.SettingsTable) + "id"}
	needTable, needNav := out.EntitySet == "", out.Navigation == ""
	switch {
	case !needTable && !needNav:
		out.Source = "configuration"
		return out, nil
	case needTable && needNav:
		out.Source = "metadata"
	default:
		out.Source = "metadata and configuration"
	}
	var (
		table   *wireEntity
		nav     string
		navErr  error
		tErr    error
		results = make(chan struct{}, 2)
	)
	if needTable {
		go func() {
			table, tErr = r.settingsTable(ctx, o.SettingsTable)
			results <- struct{}{}
		}()
	}
	if needNav {
		go func() {
			nav, navErr = r.lookupNavigation(ctx, o.SettingsTable, o.ServiceUserLookup)
			results <- struct{}{}
		}()
	}
	for range boolCount(needTable, needNav) {
		<-results
	}
	if needTable {
		if tErr != nil {
			return nil, tErr
		}
		if table == nil {
			return nil, inStage("EntityDefinitions (Work 365 settings table)", fmt.Errorf(
				"Work 365 is installed but this environment has no table %q: set work365.settings_table in the config to the logical name of the table where this Work 365 version keeps its service user", o.SettingsTable))
		}
		out.SettingsTable, out.EntitySet, out.PrimaryID = table.LogicalName, table.EntitySetName, table.PrimaryIDAttribute
		if needNav && !strings.EqualFold(table.LogicalName, o.SettingsTable) {
			// The configuration named the entity set: ask again under the logical name.
			nav, navErr = r.lookupNavigation(ctx, table.LogicalName, o.ServiceUserLookup)
		}
	}
	if needNav {
		if navErr != nil {
			return nil, navErr
		}
		if nav == "" {
			return nil, inStage("EntityDefinitions (Work 365 service-user lookup)", fmt.Errorf(
				"the table %q has no lookup %q: set work365.service_user_lookup in the config to the logical name of the lookup that holds Work 365's service user", out.SettingsTable, o.ServiceUserLookup))
		}
		out.Navigation = nav
	}
	return out, nil
}

func boolCount(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// settingsTable reads the table's definition; name may be its logical name or, from an older configuration,
// its entity set. It is nil when no table has that name.
func (r *reader) settingsTable(ctx context.Context, name string) (*wireEntity, error) {
	q := api.Query("EntityDefinitions",
		[2]string{"$select", "LogicalName,EntitySetName,PrimaryIdAttribute"},
		[2]string{"$filter", "LogicalName eq " + api.Quote(strings.ToLower(name)) + " or EntitySetName eq " + api.Quote(name)})
	var found *wireEntity
	err := list(ctx, r, "EntityDefinitions (Work 365 settings table)", q, func(e wireEntity) error {
		if found == nil || strings.EqualFold(e.LogicalName, name) {
			ec := e
			found = &ec
		}
		return nil
	})
	return found, err
}

// lookupNavigation reads the navigation property of a lookup column; "" when the table has no such lookup or
// no such table exists.
func (r *reader) lookupNavigation(ctx context.Context, table, lookup string) (string, error) {
	q := api.Query("EntityDefinitions(LogicalName="+api.Quote(strings.ToLower(table))+")/ManyToOneRelationships",
		[2]string{"$select", "ReferencingAttribute,ReferencingEntityNavigationPropertyName"},
		[2]string{"$filter", "ReferencingAttribute eq " + api.Quote(strings.ToLower(lookup))})
	var nav string
	err := list(ctx, r, "EntityDefinitions (Work 365 service-user lookup)", q, func(rel wireRelationship) error {
		if nav == "" && strings.EqualFold(rel.ReferencingAttribute, lookup) {
			nav = rel.Navigation
		}
		return nil
	})
	if api.IsNotFound(err) {
		return "", nil
	}
	return nav, err
}

// Discovery is what audit learns of Work 365 in one environment before reading it: how the solution was found,
// where the service-user setting is kept, and whether the clear-cache action exists.
type Discovery struct {
	Solution snapshot.Solution
	// Tables are Work 365's tables, listed when no solution matched.
	Tables []string
	// Schema is nil when Work 365 is not installed.
	Schema *snapshot.Schema
	// ClearCache reports whether the organization knows the clear-cache action (an SDK message of that name).
	ClearCache bool
}

// Discover reads, with the requests a scan sends for them, Work 365's solution and schema in the organization
// at instanceURL, and asks whether clearCacheAction exists. It is what audit doctor shows.
func (c *Collector) Discover(ctx context.Context, client *api.Client, instanceURL, clearCacheAction string) (*Discovery, error) {
	dv, err := api.NewDataverse(client, instanceURL, c.opts.PageSize)
	if err != nil {
		return nil, err
	}
	r := c.newReader(dv, nil, c.requests.tenant(false))
	out := &Discovery{}
	if out.Solution, err = r.solution(ctx); err != nil {
		return nil, err
	}
	if !out.Solution.Installed {
		out.Tables, err = r.work365Tables(ctx)
		return out, err
	}
	if out.Schema, err = r.schema(ctx); err != nil {
		return out, err
	}
	if clearCacheAction != "" {
		q := api.Query("sdkmessages", [2]string{"$select", "name"}, [2]string{"$filter", "name eq " + api.Quote(clearCacheAction)})
		err = list(ctx, r, "sdkmessages", q, func(m struct {
			Name string `json:"name"`
		}) error {
			out.ClearCache = out.ClearCache || strings.EqualFold(m.Name, clearCacheAction)
			return nil
		})
	}
	return out, err
}
