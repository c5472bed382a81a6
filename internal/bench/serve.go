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

// Ready is what a serving emulator process announces on its first output line.
type Ready struct {
	URL          string  `json:"url"`
	TenantID     string  `json:"tenant_id"`
	ClientID     string  `json:"client_id"`
	BAPScope     string  `json:"bap_scope"`
	CAFile       string  `json:"ca_file"`
	Environments int     `json:"environments"`
	StartSeconds float64 `json:"start_seconds"` // generating the fixture and building the emulator
}

// ServerStats is the emulator's view of a run, as the serving process reports it.
type ServerStats struct {
	Requests          int            `json:"requests"`
	DataverseRequests int            `json:"dataverse_requests"`
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
	fx := Tenant(o.Spec)
	limit := o.ConcurrencyLimit
	if limit == 0 {
		limit = 52
	}
	srv, err := emulator.New(fx, emulator.Options{Latency: o.Latency, ConcurrencyLimit: limit})
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Close()
	ca := filepath.Join(o.Dir, "emulator-ca.pem")
	if err := os.WriteFile(ca, srv.CACertPEM(), 0o644); err != nil {
		return fmt.Errorf("write CA certificate: %w", err)
	}
	enc := json.NewEncoder(out)
	if err := enc.Encode(Ready{URL: srv.URL(), TenantID: srv.TenantID(), ClientID: ClientID, BAPScope: srv.BAPScope(), CAFile: ca,
		Environments: len(fx.Environments), StartSeconds: time.Since(start).Seconds()}); err != nil {
		return err
	}
	fx = nil
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
			switch line {
			case "reset":
				srv.ResetStats()
				err = enc.Encode(map[string]bool{"ok": true})
			case "stats":
				err = enc.Encode(serverStats(srv))
			default:
				err = enc.Encode(map[string]string{"error": "unknown command " + line})
			}
			if err != nil {
				return err
			}
		}
	}
}

func serverStats(srv *emulator.Server) ServerStats {
	st := srv.Stats()
	out := ServerStats{Requests: st.Requests, TokenRequests: st.TokenRequests, MaxInFlight: st.MaxInFlight,
		Environments: len(st.ByEnvironment), Writes: len(srv.Writes())}
	for _, e := range st.ByEnvironment {
		out.DataverseRequests += e.Requests
		out.MaxInFlightPerEnv = max(out.MaxInFlightPerEnv, e.MaxInFlight)
		out.Throttled += e.Throttled
	}
	return out
}
