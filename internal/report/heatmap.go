package report

import (
	"html/template"
	"strings"

	"github.com/work365/audit/internal/policy"
)

// heatmap is the environment × rule grid at the top of the HTML report: a row per environment, grouped by
// tenant, a column per rule of the catalog, a cell per result. It is a table, so that its headers name the
// environment and the rule of each cell for any reader; the script makes it a grid to move through with the
// arrow keys, whose cells open their result.
type heatmap struct {
	Rules  []Rule
	Span   int // the columns: the environment's, then a rule's each
	Groups []heatGroup
}

type heatGroup struct {
	Tenant string
	Rows   []heatRow
}

type heatRow struct {
	Name   string
	Anchor string
	// Cells is the row's cells, written here rather than by the template: at a thousand environments and
	// fifteen rules they are most of the page, and one element each, with a class and the status's name.
	Cells template.HTML
}

// heatCell is a cell's markup by status. The status's name is the cell's text, which the style sheet shows
// as the status's icon: the cell reads the same without colour, and to a screen reader.
var heatCell = func() map[policy.Status]string {
	m := map[policy.Status]string{"": `<td class="h-none">No result</td>`}
	for _, s := range Statuses {
		m[s] = `<td class="h-` + string(s) + `">` + StatusLabel(s) + `</td>`
	}
	return m
}()

func newHeatmap(r *Report, envs []htmlEnv) heatmap {
	h := heatmap{Rules: r.Rules, Span: len(r.Rules) + 1}
	status := make(map[string]map[string]policy.Status, len(r.Environments))
	for _, res := range r.Results {
		m := status[res.EnvironmentID]
		if m == nil {
			m = make(map[string]policy.Status, len(r.Rules))
			status[res.EnvironmentID] = m
		}
		m[res.RuleID] = res.Status
	}
	// Rows are grouped by tenant in the order of the tenants, then of the environments within each.
	byTenant := map[string][]heatRow{}
	var order []string
	for _, t := range r.Tenants {
		if _, ok := byTenant[t.Name]; !ok {
			byTenant[t.Name] = nil
			order = append(order, t.Name)
		}
	}
	var b strings.Builder
	for _, e := range envs {
		b.Reset()
		for _, rule := range r.Rules {
			s, ok := status[e.ID][rule.ID]
			if !ok {
				s = ""
			}
			cell, known := heatCell[s]
			if !known {
				cell = `<td class="h-none">` + template.HTMLEscapeString(string(s)) + `</td>`
			}
			b.WriteString(cell)
		}
		if _, ok := byTenant[e.Tenant]; !ok {
			order = append(order, e.Tenant)
		}
		byTenant[e.Tenant] = append(byTenant[e.Tenant], heatRow{Name: e.Name, Anchor: e.Anchor, Cells: template.HTML(b.String())})
	}
	for _, t := range order {
		if rows := byTenant[t]; len(rows) > 0 {
			h.Groups = append(h.Groups, heatGroup{Tenant: t, Rows: rows})
		}
	}
	return h
}
