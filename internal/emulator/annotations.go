package emulator

import (
	"strings"
)

// Annotations the Web API adds to lookup values on request
// (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns#formatted-values).
const (
	annFormatted   = "OData.Community.Display.V1.FormattedValue"
	annLogicalName = "Microsoft.Dynamics.CRM.lookuplogicalname"
	annNavigation  = "Microsoft.Dynamics.CRM.associatednavigationproperty"
)

// annotationFilter is the odata.include-annotations preference: "*", names, "namespace.*" wildcards, and
// exclusions with a leading "-".
type annotationFilter []string

func (f annotationFilter) includes(name string) bool {
	in := false
	for _, p := range f {
		exclude := strings.HasPrefix(p, "-")
		p = strings.TrimPrefix(p, "-")
		match := p == "*" || p == name || (strings.HasSuffix(p, ".*") && strings.HasPrefix(name, strings.TrimSuffix(p, "*")))
		if match && exclude {
			return false
		}
		in = in || match
	}
	return in
}

func parseAnnotationFilter(v string) annotationFilter {
	var out annotationFilter
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// render projects a row for output and adds the lookup annotations the request asked for; callers hold the
// store's read lock.
func (s *Server) render(req *dvRequest, r row, schema *entitySchema, sel []string) map[string]any {
	out := project(r, schema, sel)
	f := req.annotations
	if len(f) == 0 {
		return out
	}
	formatted, logical, nav := f.includes(annFormatted), f.includes(annLogicalName), f.includes(annNavigation)
	for _, lk := range schema.lookups {
		id, ok := out[lk.column].(string)
		if !ok {
			continue // not selected, or null: no annotations
		}
		target := req.st.schemas[lk.target]
		if formatted {
			if ref := req.st.tables[lk.target][id]; ref != nil && ref[target.primaryName] != nil {
				out[lk.column+"@"+annFormatted] = ref[target.primaryName]
			}
		}
		if logical {
			out[lk.column+"@"+annLogicalName] = target.logical
		}
		if nav {
			out[lk.column+"@"+annNavigation] = lk.nav
		}
	}
	return out
}
