package emulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExpandCombinations(t *testing.T) {
	t.Parallel()
	strict := startWithTeams(t, Options{})
	relaxed := startWithTeams(t, Options{AllowCombinedExpand: true})
	jdoe := strict.UserID(prod, "jdoe")
	tests := []struct {
		name    string
		path    string
		refused bool
	}{
		{"an N:N expand with a lookup", "systemusers?$select=fullname&$expand=systemuserroles_association($select=name),businessunitid($select=name)", true},
		{"a lookup with an N:N expand", "systemusers?$expand=businessunitid($select=name),teammembership_association($select=name)", true},
		{"two N:N expands", "systemusers?$expand=systemuserroles_association($select=name),teammembership_association($select=name)", true},
		{"on one record too", "systemusers(" + jdoe + ")?$expand=systemuserroles_association($select=name),businessunitid", true},
		{"on a related collection too", "teams(" + teamID(t, strict, prod, "Work 365 Operators") + ")/teammembership_association?$expand=systemuserroles_association($select=name),businessunitid", true},
		{"one N:N expand", "systemusers?$expand=systemuserroles_association($select=name)", false},
		{"one lookup", "systemusers?$expand=businessunitid($select=name)", false},
		{"several lookups", "roles?$expand=businessunitid($select=name),parentrootroleid($select=name)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := call(t, strict, http.MethodGet, dvURL(strict, prod, tt.path), dvToken(t, strict), "")
			if !tt.refused {
				assert.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
				return
			}
			require.Equal(t, http.StatusBadRequest, resp.status, "%s", resp.body)
			assert.Equal(t, "0x80060888", resp.errorCode(t))
			assert.Contains(t, resp.errorMessage(t), "together with other navigation properties")
			assert.Contains(t, resp.errorMessage(t), "Options.AllowCombinedExpand")

			resp = call(t, relaxed, http.MethodGet, dvURL(relaxed, prod, tt.path), dvToken(t, relaxed), "")
			assert.Equal(t, http.StatusOK, resp.status, "AllowCombinedExpand accepts it: %s", resp.body)
		})
	}
	t.Run("combined, both expansions are served", func(t *testing.T) {
		t.Parallel()
		q := "systemusers?$select=fullname&$filter=" + url.QueryEscape("fullname eq 'Bob O''Brien'") +
			"&$expand=systemuserroles_association($select=name),businessunitid($select=name)"
		rows := call(t, relaxed, http.MethodGet, dvURL(relaxed, prod, q), dvToken(t, relaxed), "").values(t)
		require.Len(t, rows, 1)
		assert.Equal(t, "Sales", rows[0]["businessunitid"].(map[string]any)["name"])
		assert.Len(t, rows[0]["systemuserroles_association"], 1)
	})
}

func TestExpandedCollectionLinks(t *testing.T) {
	t.Parallel()
	// Work 365 Service in the root business unit is held by three users.
	holders := func(t *testing.T, srv *Server) string {
		return "roles?$select=name&$filter=" + url.QueryEscape("name eq 'Work 365 Service' and _businessunitid_value eq "+rootBU(t, srv, prod)) +
			"&$expand=systemuserroles_association($select=fullname;$orderby=fullname)"
	}
	all := []string{"# Work 365", "Jane Doe", "Work 365 Service Account"}
	inline := func(row map[string]any) []string {
		var out []string
		for _, x := range row["systemuserroles_association"].([]any) {
			out = append(out, x.(map[string]any)["fullname"].(string))
		}
		return out
	}
	follow := func(t *testing.T, srv *Server, link string, headers ...string) []string {
		var out []string
		for pages := 0; link != ""; pages++ {
			require.Less(t, pages, 10)
			resp := call(t, srv, http.MethodGet, link, dvToken(t, srv), "", headers...)
			require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
			out = append(out, names(resp.values(t), "fullname")...)
			link, _ = resp.object(t)["@odata.nextLink"].(string)
		}
		return out
	}

	t.Run("complete: a plain link that gives every row again", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{MaxPageSize: 1})
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, holders(t, srv)), dvToken(t, srv), "")
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		rows := resp.values(t)
		require.Len(t, rows, 1)
		assert.Equal(t, all, inline(rows[0]), "Options.MaxPageSize caps top-level pages only")
		link := rows[0]["systemuserroles_association@odata.nextLink"].(string)
		assert.Equal(t, srv.InstanceURL(prod)+"api/data/v9.2/roles("+rows[0]["roleid"].(string)+")/systemuserroles_association?$select=fullname&$orderby=fullname", link)
		assert.NotContains(t, link, "$skiptoken")
		assert.Equal(t, all, follow(t, srv, link), "following it pages through every row, inline ones included")
	})
	t.Run("capped by the preferred page size: a link after the inline rows", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{})
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, holders(t, srv)), dvToken(t, srv), "", "Prefer", "odata.maxpagesize=2")
		rows := resp.values(t)
		require.Len(t, rows, 1)
		assert.Equal(t, all[:2], inline(rows[0]))
		link := rows[0]["systemuserroles_association@odata.nextLink"].(string)
		assert.Contains(t, link, "?$select=fullname&$orderby=fullname&$skiptoken=%3Ccookie%20pagenumber=%222%22")
		assert.Equal(t, all[2:], follow(t, srv, link, "Prefer", "odata.maxpagesize=2"))
	})
	t.Run("capped by MaxExpandedItems", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{MaxExpandedItems: 1})
		rows := call(t, srv, http.MethodGet, dvURL(srv, prod, holders(t, srv)), dvToken(t, srv), "").values(t)
		assert.Equal(t, all[:1], inline(rows[0]))
		link := rows[0]["systemuserroles_association@odata.nextLink"].(string)
		assert.True(t, strings.Contains(link, "$skiptoken="), link)
		assert.Equal(t, all[1:], follow(t, srv, link))
	})
	t.Run("deferred: empty arrays and the plain link", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{DeferExpandedCollections: true})
		rows := call(t, srv, http.MethodGet, dvURL(srv, prod, holders(t, srv)), dvToken(t, srv), "").values(t)
		assert.Equal(t, []any{}, rows[0]["systemuserroles_association"])
		link := rows[0]["systemuserroles_association@odata.nextLink"].(string)
		assert.NotContains(t, link, "$skiptoken")
		assert.Equal(t, all, follow(t, srv, link))
	})
	t.Run("$top inside the expand is kept in the link", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{})
		q := strings.Replace(holders(t, srv), "$orderby=fullname)", "$orderby=fullname;$top=2)", 1)
		rows := call(t, srv, http.MethodGet, dvURL(srv, prod, q), dvToken(t, srv), "", "Prefer", "odata.maxpagesize=1").values(t)
		assert.Equal(t, all[:1], inline(rows[0]))
		link := rows[0]["systemuserroles_association@odata.nextLink"].(string)
		assert.Contains(t, link, "&$top=2&$skiptoken=")
		assert.Equal(t, all[1:2], follow(t, srv, link, "Prefer", "odata.maxpagesize=1"))
	})
	t.Run("single-record reads: inline, without a link", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, Options{DeferExpandedCollections: true, MaxPageSize: 1})
		role := roleID(t, srv, prod, "Work 365 Service", rootBU(t, srv, prod))
		resp := call(t, srv, http.MethodGet, dvURL(srv, prod, "roles("+role+")?$select=name&$expand=systemuserroles_association($select=fullname;$orderby=fullname)"), dvToken(t, srv), "", "Prefer", "odata.maxpagesize=1")
		obj := resp.object(t)
		assert.Equal(t, all, inline(obj))
		assert.NotContains(t, obj, "systemuserroles_association@odata.nextLink")
	})
}
