package api

import (
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
		resp := &Response{Status: 200, Header: http.Header{"Content-Type": []string{"application/json; odata.metadata=minimal"}}, Body: body}
		var p page[map[string]any]
		if err := DecodeJSON(http.MethodGet, "https://o/api/data/v9.2/x", resp, &p); err == nil {
			_ = hasValueKey(body)
			for _, row := range p.Value {
				_ = row["systemuserid"]
			}
		}
		code, msg := parseErrorBody(body)
		_ = code + msg
		_ = snippet(body)
	})
}
