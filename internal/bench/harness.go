package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options configure a harness run.
type Options struct {
	// Exe is the audit-bench binary whose hidden subcommands run each measured process.
	Exe string
	// Dir receives results and scratch files (.bench by default).
	Dir     string
	Spec    Spec
	Latency time.Duration
	// Limit is Dataverse's concurrent-request limit per environment that the emulator enforces (52).
	Limit int
	// Concurrency and PerEnvironment override the collector's bounds; 0 keeps the defaults, which are
	// DefaultConcurrency and DefaultPerEnvironment.
	Concurrency, PerEnvironment               int
	DefaultConcurrency, DefaultPerEnvironment int
	// Sample is the number of environments scanned at concurrency 1 (0 skips it); FixEnvironments the
	// number of environments of the fix measurement (0 skips it).
	Sample, FixEnvironments int
	EvalRuns                int
	// OPA is an opa binary; "" builds one from the OPA module, "none" skips the comparison.
	OPA     string
	Log     io.Writer
	Version string
}

// Run measures scan, evaluation and fix as Options say and returns the result; the goals are checked but a
// missed goal is not an error.
func Run(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	o.Spec = o.Spec.withDefaults()
	if o.Latency <= 0 {
		o.Latency = 100 * time.Millisecond
	}
	if o.Limit <= 0 {
		o.Limit = 52
	}
	if o.EvalRuns <= 0 {
		o.EvalRuns = 5
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	h := &harness{o: o}
	res := &Result{Schema: SchemaVersion, StartedAt: start.UTC().Format(time.RFC3339), Tool: o.Version, Machine: describeMachine()}
	res.Machine.LoadAverage[0] = loadAverage()
	conc, perEnv := o.Concurrency, o.PerEnvironment
	if conc <= 0 {
		conc = o.DefaultConcurrency
	}
	if perEnv <= 0 {
		perEnv = o.DefaultPerEnvironment
	}
	res.Params = Params{Environments: o.Spec.Environments, UsersPerEnv: o.Spec.Users, AppUsersPerEnv: o.Spec.AppUsers,
		LatencyMS: float64(o.Latency) / float64(time.Millisecond), DataverseLimit: o.Limit, Concurrency: conc, PerEnvironment: perEnv,
		SequentialSample: min(o.Sample, o.Spec.Environments), FixEnvironments: o.FixEnvironments, Tenants: o.Spec.Tenants,
		Work365Share: o.Spec.Work365Share}

	// Built first, so that building it does not disturb the timed runs.
	opa, opaVer := "", ""
	if o.OPA != "none" {
		h.logf("preparing opa (the OPA module's command line)")
		var err error
		if opa, opaVer, err = opaBinary(ctx, o.OPA, o.Dir); err != nil {
			h.logf("opa eval comparison skipped: %v", err)
			res.Evaluation.OPASkipped = err.Error()
			opa = ""
		}
	} else {
		res.Evaluation.OPASkipped = "--opa none"
	}

	if err := h.scan(ctx, res); err != nil {
		return nil, err
	}
	if err := h.evaluation(ctx, res, opa, opaVer); err != nil {
		return nil, err
	}
	if o.FixEnvironments > 0 {
		if err := h.fix(ctx, res); err != nil {
			return nil, err
		}
	}
	res.Machine.LoadAverage[1] = loadAverage()
	res.HarnessSeconds = time.Since(start).Seconds()
	res.Goals = goals(res)
	return res, nil
}

type harness struct {
	o Options
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.o.Log, "bench: "+format+"\n", args...)
}

func (h *harness) scan(ctx context.Context, res *Result) error {
	o := h.o
	h.logf("generating and serving %d environments (%d users, %d of them application users; latency %s; limit %d per environment)",
		o.Spec.Environments, o.Spec.Users, o.Spec.AppUsers, o.Latency, o.Limit)
	srv, err := h.startServer(ctx, "serve-scan", o.Spec)
	if err != nil {
		return err
	}
	defer srv.close()
	sc := &res.Scan
	sc.EmulatorStartSeconds = srv.ready.StartSeconds
	cfg := filepath.Join(o.Dir, "audit.yaml")
	if err := writeConfig(cfg, srv.ready, o.Concurrency, o.PerEnvironment); err != nil {
		return err
	}

	// D: one environment of each profile, nothing queued (bounds far above what they need).
	probeCfg := filepath.Join(o.Dir, "audit-probe.yaml")
	if err := writeConfig(probeCfg, srv.ready, 10000, 52); err != nil {
		return err
	}
	h.logf("probing the dependency depth of one environment's requests")
	var probe ScanRun
	if _, err := h.child(ctx, "probe", []string{CmdScan, "--config", probeCfg, "--env", SampleGlob(10), "--collect-only"}, srv.ready, &probe); err != nil {
		return err
	}
	sc.Depth = probe.Collect.Depth

	h.logf("scanning %d environments at the default concurrency", o.Spec.Environments)
	if err := srv.call("reset", nil); err != nil {
		return err
	}
	emuCPU := srv.cpuSeconds()
	busy := machineBusySeconds()
	selfCPU := ownCPUSeconds()
	var run ScanRun
	ps, err := h.child(ctx, "scan", []string{CmdScan, "--config", cfg, "--output", filepath.Join(o.Dir, "scan-report")}, srv.ready, &run)
	if err != nil {
		return err
	}
	sc.EmulatorCPUSeconds = srv.cpuSeconds() - emuCPU
	res.Machine.OtherCPUSeconds = math.Max(0, machineBusySeconds()-busy-ps.cpu-sc.EmulatorCPUSeconds-(ownCPUSeconds()-selfCPU))
	var st ServerStats
	if err := srv.call("stats", &st); err != nil {
		return err
	}
	res.Params.Concurrency, res.Params.PerEnvironment = run.Concurrency, run.PerEnvironment
	sc.Environments, sc.EnvironmentsOK, sc.EnvironmentsError = run.Environments, run.OK, run.Errors
	sc.WallSeconds = run.CollectSeconds
	sc.Requests, sc.DataverseRequests = st.Requests, st.DataverseRequests
	if run.Environments > 0 {
		sc.RequestsPerEnv = float64(st.DataverseRequests) / float64(run.Environments)
		sc.AllocBytesPerEnv = float64(run.CollectAlloc.Bytes) / float64(run.Environments)
		sc.AllocsPerEnv = float64(run.CollectAlloc.Objects) / float64(run.Environments)
	}
	t := o.Latency.Seconds()
	sc.LowerBoundSeconds = math.Max(float64(sc.Depth)*t, float64(st.DataverseRequests)*t/float64(max(run.Concurrency, 1)))
	if sc.LowerBoundSeconds > 0 {
		sc.Ratio = sc.WallSeconds / sc.LowerBoundSeconds
	}
	// Each tenant has an emulator of its own, which sees only its requests: the peak overall is the client's,
	// which sees them all (and never less than one emulator's).
	sc.MaxInFlight, sc.MaxInFlightPerEnv, sc.Throttled = max(st.MaxInFlight, run.Collect.MaxInFlight), st.MaxInFlightPerEnv, st.Throttled
	sc.Retries, sc.TokenRequests, sc.TokenAudiences = run.Retries, sumValues(st.TokenRequests), len(st.TokenRequests)
	for _, n := range st.TokenRequests {
		sc.MaxTokensPerAudience = max(sc.MaxTokensPerAudience, n)
	}
	sc.FirstRequestSeconds = run.FirstRequestSeconds
	sc.Connections, sc.HTTP2Responses, sc.HTTP1Responses = run.Connections, run.HTTP2, run.HTTP1
	sc.PeakRSSBytes, sc.CPUSeconds = ps.maxRSS, ps.cpu
	sc.LoadPolicySeconds, sc.EvaluateSeconds, sc.ReportSeconds, sc.CommandSeconds = run.LoadPolicySeconds, run.EvaluateSeconds, run.ReportSeconds, run.CommandSeconds
	h.logf("scan: %.2fs for %d environments (bound %.2fs, ratio %.2f), peak RSS %d MiB", sc.WallSeconds, sc.Environments,
		sc.LowerBoundSeconds, sc.Ratio, sc.PeakRSSBytes>>20)

	// audit collect -o: the snapshot the evaluation measurement reads, and the memory of writing it.
	h.logf("collecting the snapshot of %d environments", o.Spec.Environments)
	var col ScanRun
	cps, err := h.child(ctx, "collect", []string{CmdCollect, "--config", cfg, "--snapshot", filepath.Join(o.Dir, "snapshot.json")}, srv.ready, &col)
	if err != nil {
		return err
	}
	sc.CollectPeakRSSBytes = cps.maxRSS
	h.logf("collect -o: peak RSS %d MiB", sc.CollectPeakRSSBytes>>20)

	if n := res.Params.SequentialSample; n > 0 {
		h.logf("scanning %d environments at concurrency 1", n)
		if err := srv.call("reset", nil); err != nil {
			return err
		}
		var seq ScanRun
		if _, err := h.child(ctx, "sequential", []string{CmdScan, "--config", cfg, "--concurrency", "1", "--env", SampleGlob(n),
			"--collect-only"}, srv.ready, &seq); err != nil {
			return err
		}
		q := &res.Sequential
		q.Environments, q.WallSeconds = seq.Environments, seq.CollectSeconds
		if seq.Environments > 0 {
			q.ScaledSeconds = seq.CollectSeconds * float64(sc.Environments) / float64(seq.Environments)
		}
		if sc.WallSeconds > 0 {
			q.Speedup = q.ScaledSeconds / sc.WallSeconds
		}
		h.logf("sequential: %.1fs for %d environments, %.0fs scaled: speed-up %.0f×", q.WallSeconds, q.Environments, q.ScaledSeconds, q.Speedup)
	}
	return nil
}

func (h *harness) evaluation(ctx context.Context, res *Result, opa, opaVer string) error {
	o := h.o
	h.logf("evaluating the snapshot %d times", o.EvalRuns)
	dir := filepath.Join(o.Dir, "opa-eval")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var run EvalRun
	if _, err := h.child(ctx, "eval", []string{CmdEval, "--snapshot", filepath.Join(o.Dir, "snapshot.json"), "--runs", strconv.Itoa(o.EvalRuns),
		"--opa-dir", dir}, Ready{}, &run); err != nil {
		return err
	}
	ev := &res.Evaluation
	ev.Environments, ev.Workers, ev.Runs, ev.PrepareSeconds = run.Evaluated, run.Workers, len(run.Seconds), run.PrepareSeconds
	ev.TotalSeconds = median(run.Seconds)
	if len(run.Seconds) > 0 {
		ev.FastestSeconds = slices.Min(run.Seconds)
	}
	if run.Evaluated > 0 {
		ev.PerEnvMS = ev.TotalSeconds * 1000 / float64(run.Evaluated)
		ev.CPUPerEnvMS = median(run.CPUSeconds) * 1000 / float64(run.Evaluated)
		ev.AllocBytesPerEnv = float64(run.Alloc.Bytes) / float64(run.Evaluated)
		ev.AllocsPerEnv = float64(run.Alloc.Objects) / float64(run.Evaluated)
	}
	h.logf("evaluation: %.3fs (%.3f ms per environment, %d workers)", ev.TotalSeconds, ev.PerEnvMS, ev.Workers)
	if opa == "" {
		return nil
	}
	ev.OPAVersion = opaVer
	var walls, queries []float64
	for i := 0; i < 3; i++ {
		r, err := runOPAEval(ctx, opa, dir, run.OPAQuery)
		if err != nil {
			ev.OPASkipped = err.Error()
			h.logf("opa eval comparison skipped: %v", err)
			return nil
		}
		walls, queries = append(walls, r.wall.Seconds()), append(queries, r.query.Seconds())
		ev.OPAResultsMatch = sameStatuses(run.Statuses, r.statuses)
		if !ev.OPAResultsMatch {
			h.logf("opa eval statuses %v differ from the engine's %v", r.statuses, run.Statuses)
		}
	}
	ev.OPAEvalSeconds, ev.OPAQuerySeconds = median(walls), median(queries)
	if ev.TotalSeconds > 0 {
		ev.SpeedupVsOPA = ev.OPAEvalSeconds / ev.TotalSeconds
	}
	h.logf("opa eval: %.3fs (its query alone %.3fs)", ev.OPAEvalSeconds, ev.OPAQuerySeconds)
	return nil
}

func (h *harness) fix(ctx context.Context, res *Result) error {
	o := h.o
	h.logf("serving %d environments that each need a few fixes", o.FixEnvironments)
	srv, err := h.startServer(ctx, "serve-fix", Spec{Environments: o.FixEnvironments, Users: o.Spec.Users, AppUsers: o.Spec.AppUsers, Fixable: true})
	if err != nil {
		return err
	}
	defer srv.close()
	cfg := filepath.Join(o.Dir, "audit-fix.yaml")
	if err := writeConfig(cfg, srv.ready, o.Concurrency, o.PerEnvironment); err != nil {
		return err
	}
	out := filepath.Join(o.Dir, "fix-report")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	h.logf("planning and applying the fixes")
	var run FixRun
	ps, err := h.child(ctx, "fix", []string{CmdFix, "--config", cfg, "--output", out}, srv.ready, &run)
	if err != nil {
		return err
	}
	var st ServerStats
	if err := srv.call("stats", &st); err != nil {
		return err
	}
	f := &res.Fix
	f.Environments, f.Steps, f.Applied, f.Failed, f.Concurrency = run.Environments, run.Steps, run.Applied, run.Failed, run.Concurrency
	f.PlanSeconds, f.ApplySeconds, f.VerifySeconds = run.PlanSeconds, run.ApplySeconds, run.VerifySeconds
	f.Requests, f.Writes, f.Depth = run.Apply.Requests, run.Writes, run.Apply.MaxPerOrg
	f.MaxInFlightPerEnv, f.MaxInFlight, f.Throttled, f.PeakRSSBytes = run.Apply.MaxInFlightPerOrg, run.Apply.MaxInFlight, st.Throttled, ps.maxRSS
	t := o.Latency.Seconds()
	// Within an environment every request waits for the previous one: its chain is all of its requests.
	f.LowerBoundSeconds = math.Max(float64(f.Depth)*t, float64(f.Requests)*t/float64(max(run.Concurrency, 1)))
	if f.LowerBoundSeconds > 0 {
		f.Ratio = f.ApplySeconds / f.LowerBoundSeconds
	}
	h.logf("fix: %d steps in %d environments applied in %.2fs (bound %.2fs, ratio %.2f); %d failed", f.Steps, f.Environments,
		f.ApplySeconds, f.LowerBoundSeconds, f.Ratio, f.Failed)
	return nil
}

// server is a running `audit-bench serve` process.
type server struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	ready Ready
	log   *os.File
}

func (h *harness) startServer(ctx context.Context, name string, spec Spec) (*server, error) {
	args := []string{CmdServe, "--environments", strconv.Itoa(spec.Environments), "--users", strconv.Itoa(spec.Users),
		"--app-users", strconv.Itoa(spec.AppUsers), "--latency", h.o.Latency.String(), "--limit", strconv.Itoa(h.o.Limit), "--dir", h.o.Dir,
		"--tenants", strconv.Itoa(max(spec.Tenants, 1)), "--work365-share", strconv.FormatFloat(spec.Work365Share, 'f', -1, 64)}
	if spec.Fixable {
		args = append(args, "--fixable")
	}
	cmd := exec.CommandContext(ctx, h.o.Exe, args...)
	logf, err := os.Create(filepath.Join(h.o.Dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start emulator process: %w", err)
	}
	s := &server{cmd: cmd, in: in, out: bufio.NewReader(outPipe), log: logf}
	if err := s.read(&s.ready); err != nil {
		s.close()
		return nil, fmt.Errorf("emulator process (see %s): %w", logf.Name(), err)
	}
	return s, nil
}

func (s *server) read(v any) error {
	line, err := s.out.ReadBytes('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, v)
}

// call sends a command and reads its one-line answer into v (nil discards it).
func (s *server) call(cmd string, v any) error {
	if _, err := fmt.Fprintln(s.in, cmd); err != nil {
		return fmt.Errorf("emulator process: %w", err)
	}
	var raw json.RawMessage
	if err := s.read(&raw); err != nil {
		return fmt.Errorf("emulator process: %s: %w", cmd, err)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// cpuSeconds is the CPU time the emulator process has used so far.
func (s *server) cpuSeconds() float64 { return processCPUSeconds(s.cmd.Process.Pid) }

func (s *server) close() {
	fmt.Fprintln(s.in, "quit")
	s.in.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.log.Close()
}

// procStats are the resources a finished child process used.
type procStats struct {
	wall   time.Duration
	maxRSS int64
	cpu    float64
}

// child runs one measured process (`audit-bench <args>`) against an emulator and reads its result file.
func (h *harness) child(ctx context.Context, name string, args []string, emu Ready, result any) (procStats, error) {
	resultPath := filepath.Join(h.o.Dir, name+".result.json")
	os.Remove(resultPath)
	cmd := exec.CommandContext(ctx, h.o.Exe, append(args, "--result", resultPath)...)
	cmd.Env = append(os.Environ(), SecretVar+"="+ClientSecret)
	if emu.CAFile != "" {
		cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+emu.CAFile)
	}
	logf, err := os.Create(filepath.Join(h.o.Dir, name+".log"))
	if err != nil {
		return procStats{}, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	err = cmd.Run()
	ps := procStats{wall: time.Since(start)}
	if cmd.ProcessState != nil {
		ps.maxRSS, ps.cpu = childUsage(cmd.ProcessState)
	}
	if err != nil {
		tail, _ := os.ReadFile(logf.Name())
		return ps, fmt.Errorf("%s process failed: %w\n%s", name, err, lastLines(string(tail), 10))
	}
	if err := ReadJSON(resultPath, result); err != nil {
		return ps, err
	}
	return ps, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// writeConfig writes an audit config for the emulated tenants, each with its own client (and so its own
// credential and token cache in the scan); zero bounds keep the defaults.
func writeConfig(path string, r Ready, concurrency, perEnv int) error {
	var b strings.Builder
	b.WriteString("tenants:\n")
	for _, t := range r.Tenants {
		fmt.Fprintf(&b, "  - name: %s\n    tenant_id: %s\n    client_id: %s\n    client_secret_env: %s\n    authority: %s\n    bap: %s\n    bap_scope: %s\n",
			t.Name, t.TenantID, t.ClientID, SecretVar, t.URL, t.URL, t.BAPScope)
	}
	if concurrency > 0 || perEnv > 0 {
		b.WriteString("collect:\n")
		if concurrency > 0 {
			fmt.Fprintf(&b, "  concurrency: %d\n", concurrency)
		}
		if perEnv > 0 {
			fmt.Fprintf(&b, "  per_environment: %d\n", perEnv)
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// processCPUSeconds reads utime + stime of a process from /proc (clock ticks of 1/100 s).
func processCPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from the closing parenthesis.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

func ownCPUSeconds() float64 { return processCPUSeconds(os.Getpid()) }

// moduleVersion is the version of a module this binary was built with, "" when unknown.
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}
