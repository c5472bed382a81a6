package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodePageReadsRowsAndTheNextLink(t *testing.T) {
	t.Parallel()
	type row struct {
		ID string `json:"id"`
	}
	cases := []struct {
		name, body string
		rows       []row
		info       pageInfo
		err        string
	}{
		{"rows and a link", `{"@odata.context":"x","value":[{"id":"a","@odata.etag":"W/\"1\"","n@odata.nextLink":"y"},{"id":"b"}],"@odata.nextLink":"https://o/next"}`,
			[]row{{"a"}, {"b"}}, pageInfo{hasValue: true, nextLink: "https://o/next"}, ""},
		{"null value is an empty collection", `{"value":null,"@odata.nextLink":null}`, nil, pageInfo{hasValue: true}, ""},
		{"no value", `{"@odata.context":"x"}`, nil, pageInfo{}, ""},
		{"space around", " \n{\"value\":[]}\n ", nil, pageInfo{hasValue: true}, ""},
		{"trailing garbage", `{"value":[]} x`, nil, pageInfo{}, "invalid character"},
		{"a second document", `{"value":[]}{}`, nil, pageInfo{}, "unexpected object after the OData page"},
		{"an array", `[{"id":"a"}]`, nil, pageInfo{}, "cannot unmarshal array into an OData page"},
		{"value not an array", `{"value":{"id":"a"}}`, nil, pageInfo{}, "cannot unmarshal object into the value array"},
		{"mistyped row", `{"value":[{"id":1}]}`, nil, pageInfo{}, "cannot unmarshal number"},
		{"truncated", `{"value":[{"id":"a"}`, nil, pageInfo{}, "unexpected EOF"},
		{"empty", ``, nil, pageInfo{}, "unexpected EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rows []row
			info, err := decodePage(strings.NewReader(tc.body), &rows)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.rows, rows)
			assert.Equal(t, tc.info, info)
		})
	}
}

// A reset in the middle of a page is retried, and the rows of the failed attempt are not delivered twice.
func TestEachRetriesAPageCutShortWithoutRepeatingRows(t *testing.T) {
	t.Parallel()
	calls := 0
	_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/json")
		body := `{"value":[{"systemuserid":"a"},{"systemuserid":"b"},{"systemuserid":"c"}]}`
		if calls == 1 {
			// Promise the whole body, send half of it, and drop the connection.
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(body[:len(body)/2]))
			w.(http.Flusher).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		fmt.Fprint(w, body)
	})
	var ids []string
	err := Each(context.Background(), dv, "systemusers", func(u struct {
		ID string `json:"systemuserid"`
	}) error {
		ids = append(ids, u.ID)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, ids)
	assert.Equal(t, int64(1), c.Stats().Retries)
}

func TestStreamedAnswersKeepTheirErrors(t *testing.T) {
	t.Parallel()
	_, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "big":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"value":[{"systemuserid":"%s"}]}`, bytes.Repeat([]byte("x"), 2048))
		case "html":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>gateway</html>")
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"value":[{"systemuserid":`)
		}
	})
	c.MaxBodyBytes = 1024
	each := func(q string) error {
		return Each(context.Background(), dv, "systemusers?case="+q, func(map[string]any) error { return nil })
	}
	assert.ErrorContains(t, each("big"), "response body larger than 0 MiB")
	assert.ErrorContains(t, each("html"), "expected a JSON answer, got text/html")
	err := each("truncated")
	assert.ErrorContains(t, err, "malformed JSON answer")
	assert.Equal(t, http.StatusOK, StatusOf(err))
}
