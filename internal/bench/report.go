package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Targets of the issue this harness was built for; docs/performance.md explains each.
const (
	goalScanRatio   = 1.25
	goalSpeedup     = 40
	goalEvalPerEnv  = 0.5 // milliseconds
	goalPeakRSS     = 256 << 20
	goalFixRatio    = 1.25
	goalHarnessTime = 5 * time.Minute
)

func goals(r *Result) []Goal {
	var out []Goal
	add := func(name, target, value string, met bool) {
		out = append(out, Goal{Name: name, Target: target, Value: value, Met: met})
	}
	s := r.Scan
	add("scan within the lower bound", fmt.Sprintf("wall / bound ≤ %.2f", goalScanRatio), fmt.Sprintf("%.2f", s.Ratio),
		s.Ratio > 0 && s.Ratio <= goalScanRatio && s.EnvironmentsError == 0)
	add("concurrency bounds respected", fmt.Sprintf("≤ %d in flight per environment, ≤ %d overall, no 429", r.Params.PerEnvironment, r.Params.Concurrency),
		fmt.Sprintf("%d per environment, %d overall, %d throttled", s.MaxInFlightPerEnv, s.MaxInFlight, s.Throttled),
		s.MaxInFlightPerEnv <= r.Params.PerEnvironment && s.MaxInFlightPerEnv <= r.Params.DataverseLimit && s.MaxInFlight <= r.Params.Concurrency && s.Throttled == 0)
	if r.Sequential.Environments > 0 {
		add("speed-up over concurrency 1", fmt.Sprintf("≥ %d×", goalSpeedup), fmt.Sprintf("%.0f×", r.Sequential.Speedup), r.Sequential.Speedup >= goalSpeedup)
	}
	e := r.Evaluation
	add("evaluation per environment", fmt.Sprintf("≤ %.1f ms", goalEvalPerEnv), fmt.Sprintf("%.3f ms", e.PerEnvMS), e.PerEnvMS > 0 && e.PerEnvMS <= goalEvalPerEnv)
	if e.OPAEvalSeconds > 0 {
		add("evaluation faster than opa eval", "faster, same statuses", fmt.Sprintf("%.1f× faster, statuses %s", e.SpeedupVsOPA, matchWord(e.OPAResultsMatch)),
			e.SpeedupVsOPA > 1 && e.OPAResultsMatch)
	}
	add("peak RSS of the scan process (json, csv)", fmt.Sprintf("≤ %d MiB", goalPeakRSS>>20), fmt.Sprintf("%d MiB", s.PeakRSSBytes>>20), s.PeakRSSBytes > 0 && s.PeakRSSBytes <= goalPeakRSS)
	if s.CollectPeakRSSBytes > 0 {
		add("peak RSS of audit collect -o", fmt.Sprintf("≤ %d MiB", goalPeakRSS>>20), fmt.Sprintf("%d MiB", s.CollectPeakRSSBytes>>20), s.CollectPeakRSSBytes <= goalPeakRSS)
	}
	add("token requests", fmt.Sprintf("1 per tenant and audience (%d)", s.TokenAudiences), fmt.Sprintf("%d, at most %d for one", s.TokenRequests, s.MaxTokensPerAudience),
		s.TokenRequests == s.TokenAudiences && s.MaxTokensPerAudience == 1)
	if r.Fix.Environments > 0 {
		f := r.Fix
		add("fix within its lower bound, writes in order", fmt.Sprintf("wall / bound ≤ %.2f, 1 request at a time per environment", goalFixRatio),
			fmt.Sprintf("%.2f, %d at a time, %d failed", f.Ratio, f.MaxInFlightPerEnv, f.Failed), f.Ratio > 0 && f.Ratio <= goalFixRatio && f.MaxInFlightPerEnv == 1 && f.Failed == 0)
	}
	add("harness run time", fmt.Sprintf("< %s", goalHarnessTime), fmt.Sprintf("%.0f s", r.HarnessSeconds), r.HarnessSeconds < goalHarnessTime.Seconds())
	return out
}

func matchWord(ok bool) string {
	if ok {
		return "match"
	}
	return "differ"
}

// Markdown renders a run as the table the README quotes.
func Markdown(r *Result) string {
	var b strings.Builder
	p, s, q, e, f := r.Params, r.Scan, r.Sequential, r.Evaluation, r.Fix
	fmt.Fprintf(&b, "Benchmark %s (%s, %s; %d CPUs, %s, %d MiB; load average %.1f → %.1f, other processes %.1f CPU-s during the scan)\n\n",
		r.StartedAt, r.Tool, r.Machine.Go, r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryMiB, r.Machine.LoadAverage[0], r.Machine.LoadAverage[1], r.Machine.OtherCPUSeconds)
	fmt.Fprintf(&b, "%d environments in %d tenants, %.0f%% of them running Work 365 (each of those with %d users, %d application users), latency t = %s, Dataverse limit %d per environment; C = %d requests in flight, %d per environment.\n\n",
		p.Environments, max(p.Tenants, 1), 100*shareOf(p), p.UsersPerEnv, p.AppUsersPerEnv, ms(p.LatencyMS), p.DataverseLimit, p.Concurrency, p.PerEnvironment)
	b.WriteString("| Measure | Value |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("Scan wall time (environment list → snapshot)", fmt.Sprintf("%.2f s (%d ok, %d errors)", s.WallSeconds, s.EnvironmentsOK, s.EnvironmentsError))
	row("Requests; per environment", fmt.Sprintf("%d (%d Dataverse); %.2f", s.Requests, s.DataverseRequests, s.RequestsPerEnv))
	row("Dependency depth D", fmt.Sprint(s.Depth))
	row("Lower bound max(D·t, N·R·t/C)", fmt.Sprintf("%.2f s", s.LowerBoundSeconds))
	row("Wall / bound", fmt.Sprintf("**%.2f**", s.Ratio))
	row("Peak in flight: overall; per environment; 429s", fmt.Sprintf("%d; %d; %d", s.MaxInFlight, s.MaxInFlightPerEnv, s.Throttled))
	row("Token requests ((tenant, audience) pairs; most for one pair)", fmt.Sprintf("%d (%d; %d)", s.TokenRequests, s.TokenAudiences, s.MaxTokensPerAudience))
	row("Time to the first request", fmt.Sprintf("%.2f s (the policies compile meanwhile, in %.2f s)", s.FirstRequestSeconds, s.LoadPolicySeconds))
	row("Connections; HTTP/2 answers", fmt.Sprintf("%d; %d of %d", s.Connections, s.HTTP2Responses, s.HTTP2Responses+s.HTTP1Responses))
	if q.Environments > 0 {
		row(fmt.Sprintf("C = 1 on %d environments; scaled to %d", q.Environments, s.Environments), fmt.Sprintf("%.1f s; %.0f s", q.WallSeconds, q.ScaledSeconds))
		row("Speed-up", fmt.Sprintf("**%.0f×**", q.Speedup))
	}
	row("Evaluation alone: total; per environment", fmt.Sprintf("%.3f s; **%.3f ms** (%d environments, %d workers, median of %d; fastest %.3f s; %.2f ms CPU per environment)",
		e.TotalSeconds, e.PerEnvMS, e.Environments, e.Workers, e.Runs, e.FastestSeconds, e.CPUPerEnvMS))
	if e.OPAEvalSeconds > 0 {
		row(fmt.Sprintf("opa eval %s, same input and policies", e.OPAVersion), fmt.Sprintf("%.3f s (its query %.3f s); engine **%.1f×** faster; statuses %s", e.OPAEvalSeconds, e.OPAQuerySeconds, e.SpeedupVsOPA, matchWord(e.OPAResultsMatch)))
	} else if e.OPASkipped != "" {
		row("opa eval", "skipped: "+e.OPASkipped)
	}
	row("Peak RSS of the scan process (reports json, csv)", fmt.Sprintf("**%d MiB**", s.PeakRSSBytes>>20))
	if s.CollectPeakRSSBytes > 0 {
		row("Peak RSS of audit collect -o", fmt.Sprintf("**%d MiB**", s.CollectPeakRSSBytes>>20))
	}
	row("Collection allocations per environment", fmt.Sprintf("%.0f KiB, %.0f objects", s.AllocBytesPerEnv/1024, s.AllocsPerEnv))
	row("Evaluation allocations per environment", fmt.Sprintf("%.0f KiB, %.0f objects", e.AllocBytesPerEnv/1024, e.AllocsPerEnv))
	row("Whole scan command: collect and evaluate (policies compiled meanwhile), JSON + CSV", fmt.Sprintf("%.2f s (%.2f + %.2f s), %.1f CPU-s; emulator %.1f CPU-s",
		s.CommandSeconds, s.WallSeconds, s.ReportSeconds, s.CPUSeconds, s.EmulatorCPUSeconds))
	if f.Environments > 0 {
		row(fmt.Sprintf("Fix: %d steps in %d environments, C = %d", f.Steps, f.Environments, f.Concurrency),
			fmt.Sprintf("apply %.2f s, bound %.2f s, ratio **%.2f**; plan %.2f s, verify %.2f s; %d writes, %d at a time per environment, %d failed",
				f.ApplySeconds, f.LowerBoundSeconds, f.Ratio, f.PlanSeconds, f.VerifySeconds, f.Writes, f.MaxInFlightPerEnv, f.Failed))
	}
	row("Harness run time", fmt.Sprintf("%.0f s", r.HarnessSeconds))
	b.WriteString("\n| Goal | Target | This run | Met |\n|---|---|---|---|\n")
	for _, g := range r.Goals {
		mark := "yes"
		if !g.Met {
			mark = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", g.Name, g.Target, g.Value, mark)
	}
	return b.String()
}

func ms(v float64) string { return fmt.Sprintf("%g ms", v) }

func shareOf(p Params) float64 {
	if p.Work365Share <= 0 {
		return 1
	}
	return p.Work365Share
}

// Save writes the run as bench-<time>.json and .md in dir, and as latest.json and latest.md.
func Save(dir string, r *Result) (jsonPath, mdPath string, err error) {
	stamp := strings.NewReplacer(":", "", "-", "").Replace(r.StartedAt)
	jsonPath = filepath.Join(dir, "bench-"+stamp+".json")
	mdPath = filepath.Join(dir, "bench-"+stamp+".md")
	md := Markdown(r)
	for _, p := range []string{jsonPath, filepath.Join(dir, "latest.json")} {
		if err := WriteJSON(p, r); err != nil {
			return "", "", err
		}
	}
	for _, p := range []string{mdPath, filepath.Join(dir, "latest.md")} {
		if err := os.WriteFile(p, []byte(md), 0o644); err != nil {
			return "", "", err
		}
	}
	return jsonPath, mdPath, nil
}

// measure is one figure of a run that two runs are compared on.
type measure struct {
	name   string
	better string // "lower" or "higher"
	get    func(*Result) float64
	format string
}

var measures = []measure{
	{"scan wall time (s)", "lower", func(r *Result) float64 { return r.Scan.WallSeconds }, "%.2f"},
	{"scan wall / bound", "lower", func(r *Result) float64 { return r.Scan.Ratio }, "%.2f"},
	{"requests per environment", "lower", func(r *Result) float64 { return r.Scan.RequestsPerEnv }, "%.2f"},
	{"speed-up over concurrency 1", "higher", func(r *Result) float64 { return r.Sequential.Speedup }, "%.0f"},
	{"evaluation per environment (ms)", "lower", func(r *Result) float64 { return r.Evaluation.PerEnvMS }, "%.3f"},
	{"evaluation CPU per environment (ms)", "lower", func(r *Result) float64 { return r.Evaluation.CPUPerEnvMS }, "%.3f"},
	{"speed-up over opa eval", "higher", func(r *Result) float64 { return r.Evaluation.SpeedupVsOPA }, "%.1f"},
	{"peak RSS of the scan (MiB)", "lower", func(r *Result) float64 { return float64(r.Scan.PeakRSSBytes) / (1 << 20) }, "%.0f"},
	{"collection KiB per environment", "lower", func(r *Result) float64 { return r.Scan.AllocBytesPerEnv / 1024 }, "%.0f"},
	{"collection allocations per environment", "lower", func(r *Result) float64 { return r.Scan.AllocsPerEnv }, "%.0f"},
	{"evaluation KiB per environment", "lower", func(r *Result) float64 { return r.Evaluation.AllocBytesPerEnv / 1024 }, "%.0f"},
	{"evaluation allocations per environment", "lower", func(r *Result) float64 { return r.Evaluation.AllocsPerEnv }, "%.0f"},
	{"scan CPU (s)", "lower", func(r *Result) float64 { return r.Scan.CPUSeconds }, "%.1f"},
	{"fix apply time (s)", "lower", func(r *Result) float64 { return r.Fix.ApplySeconds }, "%.2f"},
	{"fix wall / bound", "lower", func(r *Result) float64 { return r.Fix.Ratio }, "%.2f"},
	{"other processes' CPU during the scan (s)", "lower", func(r *Result) float64 { return r.Machine.OtherCPUSeconds }, "%.1f"},
}

// Compare renders the key measures of two runs side by side, with the change from a to b.
func Compare(a, b *Result) string {
	var s strings.Builder
	fmt.Fprintf(&s, "| Measure | %s | %s | Change |\n|---|---|---|---|\n", label(a), label(b))
	for _, m := range measures {
		x, y := m.get(a), m.get(b)
		change := "—"
		if x != 0 {
			pct := (y - x) / x * 100
			change = fmt.Sprintf("%+.0f%%", pct)
			if (pct < -5 && m.better == "lower") || (pct > 5 && m.better == "higher") {
				change += " better"
			} else if (pct > 5 && m.better == "lower") || (pct < -5 && m.better == "higher") {
				change += " worse"
			}
		}
		fmt.Fprintf(&s, "| %s | "+m.format+" | "+m.format+" | %s |\n", m.name, x, y, change)
	}
	if a.Params != b.Params {
		fmt.Fprintf(&s, "\nThe runs had different parameters: %+v and %+v.\n", a.Params, b.Params)
	}
	if a.Schema != b.Schema {
		fmt.Fprintf(&s, "\nThe runs have different schemas (%s, %s): figures may not mean the same.\n", a.Schema, b.Schema)
	}
	return s.String()
}

func label(r *Result) string { return r.StartedAt + " (" + r.Tool + ")" }
