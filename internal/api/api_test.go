package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type staticTokens struct{ calls atomic.Int64 }

func (s *staticTokens) Token(_ context.Context, scope string) (string, error) {
	s.calls.Add(1)
	return "token-for-" + scope, nil
}

func payload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "payloads", name))
	require.NoError(t, err)
	return b
}

// newServer serves handler over TLS and returns a Dataverse client whose instance URL is the server's.
func newServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *Dataverse, *Client) {
	t.Helper()
	srv := httptest.NewTLSServer(handler)
	t.Cleanup(srv.Close)
	c := &Client{HTTP: srv.Client(), Tokens: &staticTokens{}, Sleep: func(context.Context, time.Duration) error { return nil }}
	dv, err := NewDataverse(c, srv.URL+"/", 0)
	require.NoError(t, err)
	return srv, dv, c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

func TestEachFollowsNextLinkWithTheSamePreferHeader(t *testing.T) {
	t.Parallel()
	var prefer []string
	var srvURL string
	_, dv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		prefer = append(prefer, r.Header.Get("Prefer"))
		assert.Equal(t, "4.0", r.Header.Get("OData-Version"))
		assert.Equal(t, "null", r.Header.Get("If-None-Match"))
		assert.Equal(t, "Bearer token-for-"+srvURL+"/.default", r.Header.Get("Authorization"))
		if r.URL.Query().Get("$skiptoken") == "" {
			// The real first page of a contacts listing, with its nextLink pointed at this server.
			body := strings.ReplaceAll(string(payload(t, "nextlink_page1_contacts.json")), "[Organization URI]", srvURL)
			writeJSON(w, 200, body)
			return
		}
		writeJSON(w, 200, `{"value":[{"@odata.etag":"W/\"1\"","fullname":"Third","contactid":"3"}]}`)
	})
	srvURL = strings.TrimSuffix(dv.Base(), "/api/data/v9.2/")
	type contact struct {
		FullName string `json:"fullname"`
		ID       string `json:"contactid"`
	}
	var got []string
	err := Each(context.Background(), dv, "contacts?$select=fullname", func(c contact) error {
		got = append(got, c.FullName)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"Yvonne McKay (sample)", "Susanna Stubberod (sample)", "Third"}, got)
	assert.Equal(t, []string{"odata.maxpagesize=5000", "odata.maxpagesize=5000"}, prefer)
}

func TestEachDecodesRealPayloadsIgnoringAnnotations(t *testing.T) {
	t.Parallel()
	_, dv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, string(payload(t, "systemusers_human_full_columns.json")))
	})
	type role struct {
		ID   string `json:"roleid"`
		Name string `json:"name"`
	}
	type user struct {
		ID         string `json:"systemuserid"`
		AccessMode int    `json:"accessmode"`
		Licensed   bool   `json:"islicensed"`
		Roles      []role `json:"systemuserroles_association"`
	}
	var users []user
	require.NoError(t, Each(context.Background(), dv, "systemusers", func(u user) error { users = append(users, u); return nil }))
	require.Len(t, users, 1)
	assert.Equal(t, "00000000-0000-0000-0000-000000000002", users[0].ID)
	assert.True(t, users[0].Licensed)
	assert.Equal(t, []role{{ID: "d58407f2-48d5-e711-a82c-000d3a37c848", Name: "Environment Maker"}}, users[0].Roles)
}

func TestEachRefusesNextLinksThatLoopOrLeaveTheOrganization(t *testing.T) {
	t.Parallel()
	for name, link := range map[string]func(base string) string{
		"loop":    func(base string) string { return base + "contacts?$skiptoken=same" },
		"foreign": func(string) string { return "https://evil.example/api/data/v9.2/contacts?$skiptoken=2" },
		"http":    func(base string) string { return strings.Replace(base, "https://", "http://", 1) + "contacts?x" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var base string
			_, dv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, fmt.Sprintf(`{"value":[{"n":1}],"@odata.nextLink":%q}`, link(base)))
			})
			base = dv.Base()
			n := 0
			err := Each(context.Background(), dv, "contacts?$skiptoken=same", func(map[string]any) error { n++; return nil })
			require.Error(t, err)
			assert.LessOrEqual(t, n, 2)
			assert.Regexp(t, "repeats an earlier page|outside", err.Error())
		})
	}
}

func TestGetRetriesThrottlingHonouringRetryAfter(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "12")
			writeJSON(w, 429, `{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}`)
		case 2:
			writeJSON(w, 503, `{"error":{"code":"0x0","message":"busy"}}`)
		default:
			writeJSON(w, 200, string(payload(t, "whoami.json")))
		}
	})
	var waits []time.Duration
	c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	var who struct{ UserID string }
	require.NoError(t, dv.Get(context.Background(), "WhoAmI", &who))
	assert.Equal(t, "22cc22cc-dd33-ee44-ff55-66aa66aa66aa", who.UserID)
	require.Len(t, waits, 2)
	assert.Equal(t, 12*time.Second, waits[0], "Retry-After is honoured")
	assert.Equal(t, int64(2), c.Stats().Retries)
}

func TestGetGivesUpWhenRetryAfterExceedsTheBudget(t *testing.T) {
	t.Parallel()
	_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "600")
		writeJSON(w, 429, `{"error":{"code":"0x80072326","message":"Number of concurrent requests exceeded the limit of 52."}}`)
	})
	c.MaxWait = time.Minute
	err := dv.Get(context.Background(), "WhoAmI", &struct{}{})
	require.Error(t, err)
	assert.Equal(t, 429, StatusOf(err))
	assert.Equal(t, "0x80072326", CodeOf(err))
}

func TestWritesAreNotRetried(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	_, dv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		assert.Equal(t, "application/json; charset=utf-8", r.Header.Get("Content-Type"))
		writeJSON(w, 503, `{"error":{"code":"0x80040216","message":"unavailable"}}`)
	})
	_, err := dv.Write(context.Background(), http.MethodPost, "systemusers", map[string]any{"accessmode": 4}, nil)
	require.Error(t, err)
	assert.Equal(t, int32(1), calls.Load())
}

func TestErrorsDescribeTheAnswer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		status      int
		ctype, body string
		wantCode    string
		wantMsg     string
	}{
		{"dataverse", 400, "application/json", string(payload(t, "error_with_annotations_400.json")), "0x80040265", "Example Error Message."},
		{"entra", 401, "application/json", `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x","error_codes":[7000215]}`,
			"invalid_client", "AADSTS7000215: Invalid client secret provided."},
		{"proxy html", 502, "text/html", "<html><body>Bad gateway</body></html>", "", "Bad Gateway (the answer was text/html, not JSON: a proxy or gateway may have answered)"},
		{"empty", 404, "", "", "", "Not Found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			c.MaxAttempts = 1
			err := dv.Get(context.Background(), "x", &struct{}{})
			var ae *Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.status, ae.Status)
			assert.Equal(t, tc.wantCode, ae.Code)
			assert.Equal(t, tc.wantMsg, ae.Message)
		})
	}
}

func TestSuccessfulAnswersMustBeJSON(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ ctype, body, want string }{
		"html page":     {"text/html", "<html>login</html>", "expected a JSON answer, got text/html"},
		"truncated":     {"application/json", `{"value":[{"a":1},`, "malformed JSON answer"},
		"not a listing": {"application/json", `{"something":"else"}`, "not an OData collection"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, dv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				fmt.Fprint(w, tc.body)
			})
			err := Each(context.Background(), dv, "x", func(map[string]any) error { return nil })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestOversizeBodiesAreRefused(t *testing.T) {
	t.Parallel()
	_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"value":["`+strings.Repeat("x", 4096)+`"]}`)
	})
	c.MaxBodyBytes = 1024
	err := Each(context.Background(), dv, "x", func(any) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "larger than")
}

func TestQueryEscapesValuesButKeepsODataReadable(t *testing.T) {
	t.Parallel()
	q := Query("roles", [2]string{"$select", "roleid,name"}, [2]string{"$filter", "name eq " + Quote("R&D's #1")})
	assert.Equal(t, "roles?$select=roleid,name&$filter=name%20eq%20'R%26D''s%20%231'", q)
}

func TestDataverseScopeIsTheInstanceOrigin(t *testing.T) {
	t.Parallel()
	dv, err := NewDataverse(&Client{}, "https://org0fadb1dd.crm.dynamics.com/", 0)
	require.NoError(t, err)
	assert.Equal(t, "https://org0fadb1dd.crm.dynamics.com/.default", dv.Scope())
	assert.Equal(t, "https://org0fadb1dd.crm.dynamics.com/api/data/v9.2/", dv.Base())
	_, err = NewDataverse(&Client{}, "http://org.crm.dynamics.com/", 0)
	require.Error(t, err)
}

func TestEntityIDFromHeader(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("OData-EntityId", "https://org.crm.dynamics.com/api/data/v9.2/systemusers(00000000-0000-0000-0000-000000000001)")
	assert.Equal(t, "00000000-0000-0000-0000-000000000001", EntityIDFromHeader(h))
	assert.Equal(t, "", EntityIDFromHeader(http.Header{}))
}

func TestPayloadFixturesAreJSON(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"bap_list_environments.json", "bap_list_environments_2023.json", "roles_full_columns.json", "entra_token_success.json"} {
		var v any
		assert.NoError(t, json.Unmarshal(payload(t, name), &v), name)
	}
}
