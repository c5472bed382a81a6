package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/work365/audit/internal/emulator"
)

// ServeOptions configure a generated emulator process.
type ServeOptions struct {
	Spec    Spec
	Latency time.Duration
	// ConcurrencyLimit is Dataverse's concurrent-request limit per environment (default 52).
	ConcurrencyLimit int
	// Dir receives the emulator's CA certificate.
	Dir string
}

// Ready is what a serving emulator process announces on its first output line: where each tenant is served.
type Ready struct {
	Tenants      []ReadyTenant `json:"tenants"`
	CAFile       string        `json:"ca_file"` // the CA certificates of every tenant's emulator
	Environments int           `json:"environments"`
	StartSeconds float64       `json:"start_seconds"` // generating the fixtures and building the emulators
}

// ReadyTenant is one served tenant: its emulator's URL (authority and BAP), its IDs and BAP's token scope.
type ReadyTenant struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	TenantID string `json:"tenant_id"`
	ClientID string `json:"client_id"`
	BAPScope string `json:"bap_scope"`
}

// ServerStats is the emulator's view of a run, as the serving process reports it.
type ServerStats struct {
	Requests          int `json:"requests"`
	DataverseRequests int `json:"dataverse_requests"`
	// TokenRequests counts issued tokens by tenant and audience ("<tenant> <audience>").
	TokenRequests     map[string]int `json:"token_requests"`
	MaxInFlight       int            `json:"max_in_flight"`
	MaxInFlightPerEnv int            `json:"max_in_flight_per_environment"`
	Throttled         int            `json:"throttled"`
	Environments      int            `json:"environments_requested"`
	Writes            int            `json:"writes"`
}

// Serve generates the tenant, serves it on loopback until in is closed or says "quit", and answers the
// commands "stats" and "reset" (one JSON line each on out). The fixture is built in this process so that
// the scan process's memory is the scan's alone.
func Serve(ctx context.Context, o ServeOptions, in io.Reader, out io.Writer) error {
	// The emulator holds every row as a map; fewer, larger collections keep its CPU for answering requests.
	debug.SetGCPercent(400)
	start := time.Now()
	fleet := Fleet(o.Spec)
	limit := o.ConcurrencyLimit
	if limit == 0 {
		limit = 52
	}
	var srvs []*emulator.Server
	defer func() {
		for _, srv := range srvs {
			srv.Close()
		}
	}()
	ready := Ready{CAFile: filepath.Join(o.Dir, "emulator-ca.pem")}
	var cas []byte
	for _, fx := range fleet {
		srv, err := emulator.New(fx, emulator.Options{Latency: o.Latency, ConcurrencyLimit: limit})
		if err != nil {
			return fmt.Errorf("start emulator: %w", err)
		}
		if err := srv.Start(); err != nil {
			return err
		}
		srvs = append(srvs, srv)
		cas = append(cas, srv.CACertPEM()...)
		ready.Tenants = append(ready.Tenants, ReadyTenant{Name: fx.Tenant.Name, URL: srv.URL(), TenantID: srv.TenantID(),
			ClientID: fx.Clients[0].ClientID, BAPScope: srv.BAPScope()})
		ready.Environments += len(fx.Environments)
	}
	if err := os.WriteFile(ready.CAFile, cas, 0o644); err != nil {
		return fmt.Errorf("write CA certificates: %w", err)
	}
	ready.StartSeconds = time.Since(start).Seconds()
	enc := json.NewEncoder(out)
	if err := enc.Encode(ready); err != nil {
		return err
	}
	fleet = nil
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- strings.TrimSpace(sc.Text())
		}
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok || line == "quit" {
				return nil
			}
			var err error
			switch line {
			case "reset":
				for _, srv := range srvs {
					srv.ResetStats()
				}
				err = enc.Encode(map[string]bool{"ok": true})
			case "stats":
				err = enc.Encode(serverStats(srvs, ready.Tenants))
			default:
				err = enc.Encode(map[string]string{"error": "unknown command " + line})
			}
			if err != nil {
				return err
			}
		}
	}
}

func serverStats(srvs []*emulator.Server, tenants []ReadyTenant) ServerStats {
	out := ServerStats{TokenRequests: map[string]int{}}
	for i, srv := range srvs {
		st := srv.Stats()
		out.Requests += st.Requests
		out.MaxInFlight = max(out.MaxInFlight, st.MaxInFlight) // the most of one emulator (one tenant) at once
		out.Environments += len(st.ByEnvironment)
		out.Writes += len(srv.Writes())
		for aud, n := range st.TokenRequests {
			out.TokenRequests[tenants[i].Name+" "+aud] += n
		}
		for _, e := range st.ByEnvironment {
			out.DataverseRequests += e.Requests
			out.MaxInFlightPerEnv = max(out.MaxInFlightPerEnv, e.MaxInFlight)
			out.Throttled += e.Throttled
		}
	}
	return out
}
