package collect

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/bench"
	"github.com/work365/audit/internal/emulator"
)

// BenchmarkTenantsBesideATroubledOne reads two tenants of 40 environments at 10 ms latency beside a third that is
// slow (200 ms) or throttled (every other Dataverse request answered 429 with Retry-After: 1), at a concurrency of
// 16, and reports when the two were read ("fast-s") and when all three were ("all-s"). The figures are
// measurements, not assertions: docs/performance.md quotes them.
func BenchmarkTenantsBesideATroubledOne(b *testing.B) {
	spec := bench.Spec{Environments: 40, Users: 20, AppUsers: 5}
	cases := []struct {
		name  string
		third func(*emulator.Server) // nil: no third tenant
		opts  emulator.Options
	}{
		{name: "two tenants alone"},
		{name: "beside a slow tenant", third: func(*emulator.Server) {}, opts: emulator.Options{Latency: 200 * time.Millisecond}},
		{name: "beside a throttled tenant", opts: emulator.Options{Latency: 10 * time.Millisecond}, third: func(srv *emulator.Server) {
			for i := range spec.Environments {
				require.NoError(b, srv.SetFaults(bench.EnvironmentName(i), emulator.Faults{Rules: []emulator.FaultRule{
					{Match: "GET", Status: 429, RetryAfter: 1, Every: 2}}}))
			}
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var targets []Target
			for _, name := range []string{"fast-1", "fast-2"} {
				_, t := startFixture(b, bench.Tenant(spec), emulator.Options{Latency: 10 * time.Millisecond})
				t.Name = name
				targets = append(targets, t)
			}
			if tc.third != nil {
				srv, t := startFixture(b, bench.Tenant(spec), tc.opts)
				tc.third(srv)
				t.Name = "troubled"
				targets = append(targets, t)
			}
			var fast, all time.Duration
			for b.Loop() {
				var mu sync.Mutex
				fastLeft := 2 * spec.Environments
				start := time.Now()
				opts := options()
				opts.Concurrency = 16
				opts.Progress = func(e Event) {
					mu.Lock()
					defer mu.Unlock()
					if e.Done && e.Tenant != "troubled" {
						if fastLeft--; fastLeft == 0 {
							fast += time.Since(start)
						}
					}
				}
				_, err := New(opts).Collect(context.Background(), targets)
				require.NoError(b, err)
				all += time.Since(start)
			}
			b.ReportMetric(fast.Seconds()/float64(b.N), "fast-s")
			b.ReportMetric(all.Seconds()/float64(b.N), "all-s")
		})
	}
}
