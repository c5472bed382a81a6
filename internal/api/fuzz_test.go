package api

import (
	"bytes"
	"net/http"
	"testing"
)

// FuzzDecodePage feeds arbitrary answers to the decoding of an OData page: it must never panic, and a page
// that decodes must be a JSON object.
func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"value":[{"systemuserid":"1","@odata.etag":"W/\"1\"","systemuserroles_association@odata.nextLink":"x"}],"@odata.nextLink":"https://o/api/data/v9.2/x"}`))
	f.Add([]byte(`{"value":[]}`))
	f.Add([]byte(`{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit"}}`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var rows []map[string]any
		if _, err := decodePage(bytes.NewReader(body), &rows); err == nil {
			if len(bytes.TrimSpace(body)) == 0 || bytes.TrimSpace(body)[0] != '{' {
				t.Fatalf("decoded a page that is not a JSON object: %q", body)
			}
			for _, row := range rows {
				_ = row["systemuserid"]
			}
		}
		resp := &Response{Status: 200, Header: http.Header{"Content-Type": []string{"application/json; odata.metadata=minimal"}}, Body: body}
		var v any
		_ = DecodeJSON(http.MethodGet, "https://o/api/data/v9.2/x", resp, &v)
		code, msg := parseErrorBody(body)
		_ = code + msg
		_ = snippet(body)
	})
}
