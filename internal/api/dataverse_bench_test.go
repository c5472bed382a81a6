package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// benchUser is the part of a systemusers row a collector keeps (as internal/collect's wire types do).
type benchUser struct {
	ID             string `json:"systemuserid"`
	FullName       string `json:"fullname"`
	DomainName     string `json:"domainname"`
	ApplicationID  string `json:"applicationid"`
	AccessMode     int    `json:"accessmode"`
	IsDisabled     bool   `json:"isdisabled"`
	BusinessUnitID string `json:"_businessunitid_value"`
	Roles          []struct {
		ID   string `json:"roleid"`
		Name string `json:"name"`
	} `json:"systemuserroles_association"`
}

// usersPage is a page of rows shaped like Dataverse's answer to a systemusers query with $expand: every row
// carries @odata.etag, ownerid and the expanded collection's own nextLink, which a decoder must skip.
func usersPage(base string, rows int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"@odata.context":"%s$metadata#systemusers(systemuserid,fullname,domainname,applicationid,accessmode,isdisabled,_businessunitid_value,systemuserroles_association(roleid,name))","value":[`, base)
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		id := fmt.Sprintf("4026be43-6b69-e111-8f65-%012d", i)
		fmt.Fprintf(&b, `{"@odata.etag":"W/\"%d\"","systemuserid":"%s","fullname":"Staff Member %d","domainname":"staff%d@contoso.onmicrosoft.com",`+
			`"applicationid":null,"accessmode":0,"isdisabled":%t,"_businessunitid_value":"78914942-34cb-ed11-b596-0022481d68cd","ownerid":"%s",`+
			`"systemuserroles_association":[{"@odata.etag":"W/\"1\"","roleid":"f68393c1-34cb-ed11-b597-000d3a993550","name":"Basic User","_businessunitid_value":"78914942-34cb-ed11-b596-0022481d68cd"}],`+
			`"systemuserroles_association@odata.nextLink":"%ssystemusers(%s)/systemuserroles_association?$select=roleid,name&$skiptoken=%%3Ccookie%%20pagenumber=%%222%%22%%20pagingcookie=%%22%%253ccookie%%2520page%%253d%%25221%%2522%%253e%%253c%%252fcookie%%253e%%22%%20istracking=%%22False%%22%%20/%%3E"}`,
			61658658+i, id, i, i, i%10 == 9, id, base, id)
	}
	b.WriteString(`]}`)
	return b.String()
}

// BenchmarkEach lists one page of systemusers rows through the whole HTTP path (TLS, headers, retries,
// decoding) and reports the cost per row: the figures to watch are ns/row, B/op and allocs/op.
func BenchmarkEach(b *testing.B) {
	for _, rows := range []int{10, 300, 5000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			var body string
			srv, dv := benchServer(b, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
				fmt.Fprint(w, body)
			})
			body = usersPage(srv+"/api/data/v9.2/", rows)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				if err := Each(context.Background(), dv, "systemusers?$select=systemuserid", func(u benchUser) error {
					n++
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				if n != rows {
					b.Fatalf("%d rows, want %d", n, rows)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}

func benchServer(b *testing.B, h http.HandlerFunc) (string, *Dataverse) {
	b.Helper()
	srv := httptest.NewTLSServer(h)
	b.Cleanup(srv.Close)
	c := &Client{HTTP: srv.Client(), Tokens: &staticTokens{}, Sleep: func(context.Context, time.Duration) error { return nil }}
	dv, err := NewDataverse(c, srv.URL+"/", 0)
	if err != nil {
		b.Fatal(err)
	}
	return srv.URL, dv
}

// BenchmarkDecodePage decodes a page of systemusers rows from memory: "stream" is decodePage, which Each uses;
// "unmarshal" is the whole-page json.Unmarshal it replaced, for reference.
func BenchmarkDecodePage(b *testing.B) {
	for _, rows := range []int{300, 5000} {
		body := []byte(usersPage("https://org.crm.dynamics.com/api/data/v9.2/", rows))
		b.Run(fmt.Sprintf("stream/rows=%d", rows), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var out []benchUser
			for b.Loop() {
				out = out[:0]
				if _, err := decodePage(bytes.NewReader(body), &out); err != nil || len(out) != rows {
					b.Fatal(err, len(out))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
		b.Run(fmt.Sprintf("unmarshal/rows=%d", rows), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var p struct {
					Value    []benchUser `json:"value"`
					NextLink string      `json:"@odata.nextLink"`
				}
				if err := json.Unmarshal(body, &p); err != nil || len(p.Value) != rows {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}
