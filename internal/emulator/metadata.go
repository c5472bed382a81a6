package emulator

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

// Table definitions (learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api):
// EntityDefinitions, one definition by LogicalName or MetadataId, and its ManyToOneRelationships, with $select
// and a small $filter. Property names are PascalCase, every item carries MetadataId, and metadata is not paged.

const (
	setEntityDefinitions = "EntityDefinitions"
	navManyToOne         = "ManyToOneRelationships"
	// codeMetadataNotFound is the code the SDK reports for an unknown table ("… was not found in the
	// MetadataCache", github.com/MscrmTools/MscrmTools.PortalCodeEditor/issues/15); its Web API status is not public.
	codeMetadataNotFound = "0x80041102"
)

// metaProps are the properties the emulator serves for a kind of definition, and how $filter compares them.
type metaProps struct {
	typeName string
	order    []string        // every served property, in output order
	filter   map[string]bool // filterable properties: true for Edm.Boolean, false for Edm.String
}

var (
	entityProps = metaProps{
		typeName: "EntityMetadata",
		order: []string{"LogicalName", "SchemaName", "EntitySetName", "LogicalCollectionName", "PrimaryIdAttribute",
			"PrimaryNameAttribute", "IsCustomEntity", "IsActivity", "MetadataId"},
		filter: map[string]bool{"LogicalName": false, "EntitySetName": false, "IsCustomEntity": true},
	}
	relationshipProps = metaProps{
		typeName: "OneToManyRelationshipMetadata",
		order: []string{"SchemaName", "ReferencingEntity", "ReferencingAttribute", "ReferencingEntityNavigationPropertyName",
			"ReferencedEntity", "ReferencedAttribute", "ReferencedEntityNavigationPropertyName", "RelationshipType",
			"IsCustomRelationship", "MetadataId"},
		filter: map[string]bool{"SchemaName": false, "ReferencingEntity": false, "ReferencingAttribute": false,
			"ReferencingEntityNavigationPropertyName": false, "ReferencedEntity": false, "ReferencedAttribute": false},
	}
)

var logicalNameKey = regexp.MustCompile(`^LogicalName='([^']*)'$`)

// metadataID is a definition's MetadataId: system tables have the same one in every organization, as in
// Dataverse; custom tables one of their own.
func (st *store) metadataID(s *entitySchema, parts ...string) string {
	if s.custom {
		return st.id("metadata", append([]string{s.logical}, parts...)...)
	}
	return deterministicID(append([]string{"metadata", s.logical}, parts...)...)
}

// entityDefinition renders a table's definition with every served property; callers hold a lock.
func (st *store) entityDefinition(s *entitySchema) map[string]any {
	return map[string]any{
		"LogicalName": s.logical, "SchemaName": s.schemaName, "EntitySetName": s.set, "LogicalCollectionName": s.set,
		"PrimaryIdAttribute": s.key, "PrimaryNameAttribute": s.primaryName, "IsCustomEntity": s.custom,
		"IsActivity": false, "MetadataId": st.metadataID(s),
	}
}

// manyToOne renders a table's lookups as its many-to-one relationships, in navigation property order.
func (st *store) manyToOne(s *entitySchema) []map[string]any {
	navs := make([]string, 0, len(s.lookups))
	for nav := range s.lookups {
		navs = append(navs, nav)
	}
	sort.Strings(navs)
	out := make([]map[string]any, 0, len(navs))
	for _, nav := range navs {
		lk := s.lookups[nav]
		target := st.schemas[lk.target]
		name := relationshipSchemaName(s, target, lk)
		out = append(out, map[string]any{
			"SchemaName": name, "ReferencingEntity": s.logical, "ReferencingAttribute": lk.attribute,
			"ReferencingEntityNavigationPropertyName": lk.nav, "ReferencedEntity": target.logical,
			"ReferencedAttribute": target.key, "ReferencedEntityNavigationPropertyName": name,
			"RelationshipType": "OneToManyRelationship", "IsCustomRelationship": s.custom && !lk.common,
			"MetadataId": st.metadataID(s, "relationship", lk.attribute),
		})
	}
	return out
}

// relationshipSchemaName names a many-to-one relationship: a custom one as the maker portal does
// (<prefix>_<referenced>_<referencing>_<navigation without prefix>, e.g.
// w365_systemuser_w365_configuration_ServiceUserId), a system one <referenced>_<referencing>_<attribute>
// (undocumented: our choice; real system relationships have names of their own). The lookups every table has
// are named lk_<table>_<attribute> (lk_w365_configuration_modifiedby), as Dataverse names them for custom tables
// (some system tables' real names differ, such as lk_rolebase_modifiedby: our choice).
func relationshipSchemaName(s, target *entitySchema, lk lookupNav) string {
	if lk.common {
		return "lk_" + s.logical + "_" + lk.attribute
	}
	if s.custom {
		prefix := customizationPrefix(s.logical)
		return prefix + "_" + target.logical + "_" + s.logical + "_" + strings.TrimPrefix(lk.nav, prefix+"_")
	}
	return target.logical + "_" + s.logical + "_" + lk.attribute
}

// findDefinition finds a table by a segment key: LogicalName='x' or its MetadataId; callers hold a lock.
func (st *store) findDefinition(seg segment) *entitySchema {
	for _, s := range st.schemas {
		if seg.altKey != "" && s.logical == seg.altKey || seg.altKey == "" && seg.key == st.metadataID(s) {
			return s
		}
	}
	return nil
}

// handleMetadata answers GET EntityDefinitions, EntityDefinitions(<key>) and
// EntityDefinitions(<key>)/ManyToOneRelationships.
func (s *Server) handleMetadata(req *dvRequest) *response {
	segs := req.segs
	st := req.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	ctx := req.base + "$metadata#" + setEntityDefinitions
	var items []map[string]any
	props := entityProps
	single := false
	switch {
	case len(segs) == 1 && !segs[0].hasKey:
		for _, sc := range st.schemas {
			items = append(items, st.entityDefinition(sc))
		}
		sort.Slice(items, func(i, j int) bool { return items[i]["LogicalName"].(string) < items[j]["LogicalName"].(string) })
	case len(segs) <= 2:
		sc := st.findDefinition(segs[0])
		if sc == nil {
			name := segs[0].altKey
			if name == "" {
				name = segs[0].key
			}
			return dvError(http.StatusNotFound, codeMetadataNotFound, fmt.Sprintf("The entity with a name = '%s' with namemapping = 'Logical' was not found in the MetadataCache.", name))
		}
		if len(segs) == 1 {
			items, single = []map[string]any{st.entityDefinition(sc)}, true
			break
		}
		if segs[1].name != navManyToOne || segs[1].hasKey {
			return dvError(http.StatusNotFound, codeNotFound, fmt.Sprintf("Resource not found for the segment '%s'; the emulator serves only the ManyToOneRelationships of a table definition.", segs[1].name))
		}
		items, props = st.manyToOne(sc), relationshipProps
		ctx += "('" + sc.logical + "')/" + navManyToOne
	default:
		return notFoundSegment(segs[len(segs)-1].name)
	}
	sel, filter, qerr := parseMetadataQuery(req.r.URL.RawQuery, props)
	if qerr != nil {
		return dvError(http.StatusBadRequest, codeNotFound, qerr.message)
	}
	if sel != nil {
		ctx += "(" + strings.Join(sel, ",") + ")"
	}
	values := make([]any, 0, len(items))
	for _, it := range items {
		if filter != nil && !filter.eval(it) {
			continue
		}
		values = append(values, projectMetadata(it, sel))
	}
	// Prefer odata.maxpagesize is ignored: all matching definitions come in one answer, never paged.
	if single {
		out := values[0].(map[string]any)
		out["@odata.context"] = ctx + "/$entity"
		return dvJSON(http.StatusOK, out)
	}
	return dvJSON(http.StatusOK, map[string]any{"@odata.context": ctx, "value": values})
}

func projectMetadata(it map[string]any, sel []string) map[string]any {
	if sel == nil {
		return it
	}
	out := map[string]any{"MetadataId": it["MetadataId"]}
	for _, p := range sel {
		out[p] = it[p]
	}
	return out
}

// parseMetadataQuery reads $select and $filter of a definitions query; other options are refused.
func parseMetadataQuery(rawQuery string, props metaProps) ([]string, metaFilter, *queryError) {
	values, err := splitQuery(rawQuery)
	if err != nil {
		return nil, nil, &queryError{"The query string is not valid: " + err.Error()}
	}
	var sel []string
	var filter metaFilter
	for k, v := range values {
		switch k {
		case "$select":
			for _, p := range strings.Split(v[0], ",") {
				p = strings.TrimSpace(p)
				if !contains(props.order, p) {
					return nil, nil, &queryError{fmt.Sprintf("The emulator serves only these %s properties: %s; '%s' is not one of them.", props.typeName, strings.Join(props.order, ", "), p)}
				}
				sel = append(sel, p)
			}
		case "$filter":
			f, qerr := parseMetadataFilter(v[0], props)
			if qerr != nil {
				return nil, nil, qerr
			}
			filter = f
		default:
			if strings.HasPrefix(k, "$") {
				return nil, nil, &queryError{fmt.Sprintf("The emulator supports only $select and $filter on table definitions, not %s.", k)}
			}
		}
	}
	return sel, filter, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// metaFilter is a parsed definitions $filter.
type metaFilter interface{ eval(map[string]any) bool }

type metaAnd struct{ l, r metaFilter }
type metaOr struct{ l, r metaFilter }
type metaEq struct {
	prop string
	lit  any
}

func (n metaAnd) eval(m map[string]any) bool { return n.l.eval(m) && n.r.eval(m) }
func (n metaOr) eval(m map[string]any) bool  { return n.l.eval(m) || n.r.eval(m) }

// eval compares strings case-insensitively, as Dataverse compares row values (undocumented for metadata).
func (n metaEq) eval(m map[string]any) bool {
	if s, ok := n.lit.(string); ok {
		v, _ := m[n.prop].(string)
		return strings.EqualFold(v, s)
	}
	return m[n.prop] == n.lit
}

// parseMetadataFilter reads "<property> eq <literal>" terms joined by and/or, with parentheses.
func parseMetadataFilter(src string, props metaProps) (metaFilter, *queryError) {
	toks, qerr := lex(src)
	if qerr != nil {
		return nil, qerr
	}
	limitation := func(what string) *queryError {
		names := make([]string, 0, len(props.filter))
		for p := range props.filter {
			names = append(names, p)
		}
		sort.Strings(names)
		return &queryError{fmt.Sprintf("The emulator's $filter on %s supports only '<property> eq <literal>' on %s, joined by and/or with parentheses; %s is not supported.", props.typeName, strings.Join(names, ", "), what)}
	}
	i := 0
	peek := func() token { return toks[i] }
	next := func() token {
		t := toks[i]
		if t.kind != tkEOF {
			i++
		}
		return t
	}
	var or func() (metaFilter, *queryError)
	primary := func() (metaFilter, *queryError) {
		t := next()
		if t.kind == tkLParen {
			n, err := or()
			if err != nil {
				return nil, err
			}
			if next().kind != tkRParen {
				return nil, syntaxError(t.pos, src)
			}
			return n, nil
		}
		if t.kind != tkIdent {
			return nil, syntaxError(t.pos, src)
		}
		isBool, ok := props.filter[t.text]
		if !ok {
			return nil, limitation(fmt.Sprintf("'%s'", t.text))
		}
		op := next()
		if op.kind != tkIdent || op.text != "eq" {
			return nil, limitation(fmt.Sprintf("the operator '%s'", op.text))
		}
		lit := next()
		switch {
		case !isBool && lit.kind == tkString:
			return metaEq{prop: t.text, lit: lit.text}, nil
		case isBool && lit.kind == tkIdent && (lit.text == "true" || lit.text == "false"):
			return metaEq{prop: t.text, lit: lit.text == "true"}, nil
		}
		return nil, limitation(fmt.Sprintf("the literal '%s' for %s", lit.text, t.text))
	}
	and := func() (metaFilter, *queryError) {
		l, err := primary()
		if err != nil {
			return nil, err
		}
		for peek().kind == tkIdent && peek().text == "and" {
			next()
			r, err := primary()
			if err != nil {
				return nil, err
			}
			l = metaAnd{l, r}
		}
		return l, nil
	}
	or = func() (metaFilter, *queryError) {
		l, err := and()
		if err != nil {
			return nil, err
		}
		for peek().kind == tkIdent && peek().text == "or" {
			next()
			r, err := and()
			if err != nil {
				return nil, err
			}
			l = metaOr{l, r}
		}
		return l, nil
	}
	n, err := or()
	if err != nil {
		return nil, err
	}
	if t := peek(); t.kind != tkEOF {
		return nil, syntaxError(t.pos, src)
	}
	return n, nil
}
