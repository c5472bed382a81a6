package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A @odata.nextLink is followed only when it starts with the Web API base the client was made for: the same
// scheme, host and port, and a path under the base's. Real Dataverse gives each organization its own host, but a
// gateway may serve several under one host by path, and another version of the Web API is another base too.
// A refused link is never requested: it would receive the organization's token.
func TestNextLinksMustStartWithTheWebAPIBase(t *testing.T) {
	t.Parallel()
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request reached another port: %s", r.URL)
	}))
	t.Cleanup(other.Close)
	for _, tc := range []struct {
		name     string
		instance string                           // path of the instance URL under the server's origin
		link     func(origin, base string) string // origin is scheme://host:port
		follow   bool
	}{
		{"a page of the same listing", "/", func(_, base string) string { return base + "contacts?$skiptoken=2" }, true},
		{"a page of the same organization by path", "/org1/", func(_, base string) string { return base + "contacts?$skiptoken=2" }, true},
		{"another organization's path on the same host", "/org1/", func(origin, _ string) string { return origin + "/org2/api/data/v9.2/contacts" }, false},
		{"another organization below the root's", "/", func(origin, _ string) string { return origin + "/otherorg/api/data/v9.2/contacts" }, false},
		{"the root organization from one by path", "/org1/", func(origin, _ string) string { return origin + "/api/data/v9.2/contacts" }, false},
		{"another version of the Web API", "/", func(origin, _ string) string { return origin + "/api/data/v9.1/contacts" }, false},
		{"a version that merely starts alike", "/", func(origin, _ string) string { return origin + "/api/data/v9.20/contacts" }, false},
		{"dot segments out of the base", "/org1/", func(_, base string) string { return base + "../../../org2/api/data/v9.2/contacts" }, false},
		{"escaped dot segments", "/org1/", func(_, base string) string { return base + "%2e%2e/%2E%2E/%2e%2e/org2/api/data/v9.2/contacts" }, false},
		{"dot segments that stay inside", "/", func(_, base string) string { return base + "./contacts" }, false},
		{"another port of the same host", "/", func(string, string) string { return other.URL + "/api/data/v9.2/contacts" }, false},
		{"another name of the same host", "/", func(origin, _ string) string {
			return strings.Replace(origin, "127.0.0.1", "localhost", 1) + "/api/data/v9.2/contacts"
		}, false},
		{"another host", "/", func(string, string) string { return "https://evil.example/api/data/v9.2/contacts" }, false},
		{"plain HTTP", "/", func(_, base string) string { return "http" + strings.TrimPrefix(base, "https") + "contacts" }, false},
		{"user information before the host", "/", func(_, base string) string { return strings.Replace(base, "https://", "https://me@", 1) + "contacts" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			var origin, base string
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					writeJSON(w, 200, fmt.Sprintf(`{"value":[{"n":1}],"@odata.nextLink":%q}`, tc.link(origin, base)))
					return
				}
				writeJSON(w, 200, `{"value":[{"n":2}]}`)
			}))
			t.Cleanup(srv.Close)
			origin = srv.URL
			c := &Client{HTTP: srv.Client(), Tokens: &staticTokens{}}
			dv, err := NewDataverse(c, srv.URL+tc.instance, 0)
			require.NoError(t, err)
			base = dv.Base()

			var rows int
			err = Each(context.Background(), dv, "contacts", func(map[string]any) error { rows++; return nil })
			if tc.follow {
				require.NoError(t, err)
				assert.Equal(t, 2, rows)
				assert.Equal(t, int32(2), calls.Load())
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "refusing to follow it (it would receive the token)")
				assert.Equal(t, int32(1), calls.Load(), "the link was not requested")
			}

			// EachLink, for the links beside expanded collections, applies the same rule to its first request.
			calls.Store(1)
			err = EachLink(context.Background(), dv, tc.link(origin, base), func(map[string]any) error { return nil })
			if tc.follow {
				require.NoError(t, err)
				assert.Equal(t, int32(2), calls.Load())
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "refusing to follow it")
				assert.Equal(t, int32(1), calls.Load(), "the link was not requested")
			}
		})
	}
}
