package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/drift"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/notify"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// historyOptions are --history and --keep.
type historyOptions struct {
	path string // the store; "" falls back to the config's history.path
	keep string // N runs, or Nd days; "" falls back to history.keep / history.keep_days
	// flagged says the path came from --history (not from the config).
	flagged bool
	// retention is keep, parsed.
	retention history.Retention
}

// shard is --shard INDEX/COUNT: this run covers the tenants that fall in part INDEX of COUNT.
type shard struct{ index, count int }

func (s *shard) String() string {
	if s.count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.index, s.count)
}

// Set parses INDEX/COUNT.
func (s *shard) Set(v string) error {
	a, b, ok := strings.Cut(v, "/")
	i, errI := strconv.Atoi(strings.TrimSpace(a))
	n, errN := strconv.Atoi(strings.TrimSpace(b))
	if !ok || errI != nil || errN != nil || n < 1 || i < 1 || i > n {
		return fmt.Errorf("%q is not INDEX/COUNT with 1 ≤ INDEX ≤ COUNT (for example 2/4)", v)
	}
	s.index, s.count = i, n
	return nil
}

// Type names the value in the help.
func (s *shard) Type() string { return "INDEX/COUNT" }

// part says in which part of count a tenant falls: rendezvous hashing of its name, so that every tenant is in
// exactly one part, the same one at every run, and adding or removing a tenant moves no other tenant.
func part(tenant string, count int) int {
	best, bestScore := 1, uint64(0)
	for i := 1; i <= count; i++ {
		h := fnv.New64a()
		_, _ = io.WriteString(h, strings.ToLower(tenant)+"\x00"+strconv.Itoa(i))
		if score := h.Sum64(); i == 1 || score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

// apply keeps the tenants of this part. Tenants are never split: GOV.1 and the sandbox-first rule of fixes
// judge a tenant by all its environments, so a part holds whole tenants and its results are final.
func (s shard) apply(g *globals, cfg *config.Config, quiet bool) {
	if s.count == 0 {
		return
	}
	all := len(cfg.Tenants)
	var keep []config.Tenant
	for _, t := range cfg.Tenants {
		if part(t.Name, s.count) == s.index {
			keep = append(keep, t)
		}
	}
	cfg.Tenants = keep
	if len(keep) == 0 && !quiet {
		printf(g.stderr, "shard %s: none of the %d configured tenants falls in this part (tenants are never split between parts); its report is empty\n", s.String(), all)
	}
}

// mark records the part on the report, for audit merge.
func (s shard) mark(r *report.Report) {
	if s.count > 0 {
		r.Shard = &report.Shard{Index: s.index, Count: s.count}
	}
}

func addScaleFlags(cmd *cobra.Command, h *historyOptions, s *shard) {
	cmd.Flags().StringVar(&h.path, "history", "", "keep every run in this SQLite file, compare each run with the previous one and send the config's notifications (default: the config's history.path)")
	cmd.Flags().StringVar(&h.keep, "keep", "", "with a history: keep the newest N runs, or those of the last N days with Nd (default: history.keep / history.keep_days, else all)")
	cmd.Flags().Var(s, "shard", "only part INDEX of COUNT of the tenants (each tenant whole, the same part every run): for parallel CI or Kubernetes jobs; audit merge combines the parts' JSON reports")
}

// validateScale checks the flags that do not need the config.
func (o *scanOptions) validateScale() error {
	o.history.flagged = o.history.path != ""
	if o.fix && o.history.flagged {
		return usageError("--history records scans: run 'audit scan --history' and 'audit fix --apply' separately")
	}
	if o.fix && o.shard.count > 0 {
		return usageError("--shard splits scans for audit merge: run 'audit fix' without --shard")
	}
	if o.history.keep != "" {
		if _, err := parseKeep(o.history.keep); err != nil {
			return err
		}
	}
	return nil
}

func parseKeep(s string) (history.Retention, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 {
			return history.Retention{}, usageError("--keep %q: use a number of runs (50) or of days (30d)", s)
		}
		return history.Retention{MaxAge: time.Duration(n) * 24 * time.Hour}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return history.Retention{}, usageError("--keep %q: use a number of runs (50) or of days (30d)", s)
	}
	return history.Retention{Keep: n}, nil
}

// resolve completes the history options from the config's history section. A fix run and a part of a
// sharded scan keep no history unless --history names one: parts usually run side by side, and audit merge
// records the whole scan.
func (h *historyOptions) resolve(cfg *config.Config, fix, sharded bool) error {
	if h.path == "" && cfg != nil && !fix && !sharded {
		h.path = cfg.HistoryPath()
	}
	if h.keep == "" && h.path == "" {
		return nil
	}
	if h.path == "" {
		return usageError("--keep needs a history: give --history FILE or set history.path in the config")
	}
	if h.keep != "" {
		r, err := parseKeep(h.keep)
		h.retention = r
		return err
	}
	if cfg != nil {
		h.retention = history.Retention{Keep: cfg.History.Keep, MaxAge: time.Duration(cfg.History.KeepDays) * 24 * time.Hour}
	}
	return nil
}

// scope names what a run covers, so that a run is compared with the previous run of the same scope: a
// shard with the same shard, a scan of some environments with one of the same environments.
func (o scanOptions) scope() string {
	var parts []string
	if o.shard.count > 0 {
		parts = append(parts, "shard="+o.shard.String())
	}
	if len(o.envs) > 0 {
		envs := append([]string(nil), o.envs...)
		sort.Strings(envs)
		parts = append(parts, "env="+strings.Join(envs, ","))
	}
	return strings.Join(parts, " ")
}

// sarifSource locates SARIF results in the config file, relative to the repository that holds it, at the
// line of each tenant's entry.
func sarifSource(cfg *config.Config) *report.SourceFile {
	if cfg == nil || cfg.Path == "" {
		return nil
	}
	src := &report.SourceFile{URI: repoRelative(cfg.Path), Lines: map[string]int{}}
	for _, t := range cfg.Tenants {
		if t.Line > 0 {
			src.Lines[t.Name] = t.Line
		}
	}
	return src
}

// repoRelative is path relative to the root of the Git repository that holds it (what code scanning
// expects), else relative to the working directory when it is below it, else its base name.
func repoRelative(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			if rel, err := filepath.Rel(dir, abs); err == nil {
				return filepath.ToSlash(rel)
			}
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(abs)
}

// errInterrupted ends a run that a signal stopped before it could finish.
var errInterrupted = errors.New("interrupted: the run stopped before its end, and no report was written")

// toolDigest identifies the running binary by the SHA-256 of its file.
var toolDigest = sync.OnceValue(func() string {
	p, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
})

// runRecorder keeps one run in the history: it holds the store for the whole run, compares the run with the
// previous one of its scope, records it, and sends and records the notifications. A nil recorder (no
// history) does nothing.
type runRecorder struct {
	g        *globals
	store    *history.Store
	id       int64
	trigger  string
	scope    string
	started  time.Time
	keep     history.Retention
	digest   string
	failOn   string
	seen     map[drift.Key]drift.Seen
	lastRead drift.LastRead
	recorded bool
}

func openRecorder(ctx context.Context, g *globals, o scanOptions, policyDigest, failOn, trigger string) (*runRecorder, error) {
	if o.history.path == "" {
		return nil, nil
	}
	started := g.now()
	st, err := history.Acquire(ctx, o.history.path, started)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", o.history.path, err)
	}
	id, err := st.NextID(ctx)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("history %s: %w", o.history.path, err)
	}
	return &runRecorder{g: g, store: st, id: id, trigger: trigger, scope: o.scope(), started: started, keep: o.history.retention,
		digest: policyDigest, failOn: failOn}, nil
}

// watchesInterrupts says whether a signal during collection ends the run as interrupted: with a history or
// in the scheduler. A plain scan keeps its behaviour of reporting what it could read.
func (r *runRecorder) watchesInterrupts(trigger string) bool {
	return r != nil || trigger == "schedule"
}

func (r *runRecorder) close() {
	if r != nil {
		r.store.Close()
	}
}

func (r *runRecorder) note(quiet bool, format string, args ...any) {
	if !quiet {
		printf(r.g.stderr, format+"\n", args...)
	}
}

// compare sets the report's drift against the previous complete run of the same scope, and prints it in
// one line. What that run could not read is compared with the last run that read it.
func (r *runRecorder) compare(ctx context.Context, ev *evaluation, quiet bool) {
	if r == nil {
		return
	}
	cur := drift.Scan{Report: ev.report, RunID: r.id}
	r.seen = drift.FirstSeen(nil, cur)
	base, err := r.store.Latest(ctx, r.scope, 0)
	if errors.Is(err, history.ErrNotFound) {
		r.note(quiet, "drift: run %d is the first of its scope in %s; later runs are compared with it", r.id, r.store.Path())
		return
	}
	var b *drift.Scan
	if err == nil {
		b, err = r.store.Scan(ctx, base.ID)
	}
	if err != nil {
		printf(r.g.stderr, "audit: drift: could not read the previous run from %s (%v); this run is recorded without a comparison\n", r.store.Path(), err)
		return
	}
	ev.report.Drift = drift.Compare(*b, cur)
	r.seen = drift.FirstSeen(b, cur)
	r.lastRead = drift.Unread(b, cur)
	r.note(quiet, "drift: %s", ev.report.Drift.Line())
}

func (r *runRecorder) run(status string) history.Run {
	return history.Run{ID: r.id, StartedAt: r.started, FinishedAt: r.g.now(), Status: status, Trigger: r.trigger, Scope: r.scope,
		ToolVersion: toolVersion(), ToolDigest: toolDigest(), PolicyDigest: r.digest, FailOn: r.failOn}
}

// record writes the complete run. Its reports are already written, so a failure here loses no result: the
// error says where they are.
func (r *runRecorder) record(ctx context.Context, ev *evaluation, ro reportOptions) error {
	if r == nil {
		return nil
	}
	run := r.run(history.StatusComplete)
	run.CollectedAt, run.ExitCode = ev.report.CollectedAt, codeOf(exitFor(ev.report))
	removed, err := r.store.Add(context.WithoutCancel(ctx), history.Record{Run: run, Report: ev.report, Snapshot: ev.snap,
		FirstSeen: history.FirstSeenOf(r.seen), LastRead: history.LastReadOf(r.lastRead)}, r.keep)
	r.recorded = true
	if err != nil {
		where := "the reports of this run were written all the same"
		if ro.output != "-" {
			dir := ro.output
			if dir == "" {
				dir = defaultReportDir
			}
			where = "the reports of this run are in " + dir
		}
		return fmt.Errorf("record run %d in the history %s: %w (%s)", r.id, r.store.Path(), err, where)
	}
	msg := fmt.Sprintf("history: recorded run %d in %s", r.id, r.store.Path())
	if removed > 0 {
		msg += fmt.Sprintf("; removed %s (retention)", plural(removed, "older run", "older runs"))
	}
	r.note(ro.quiet, "%s", msg)
	return nil
}

// abandon records a run that did not finish: interrupted by a signal, or failed, without results.
func (r *runRecorder) abandon(cause error) {
	if r == nil || r.recorded {
		return
	}
	r.recorded = true
	status := history.StatusFailed
	if errors.Is(cause, errInterrupted) || errors.Is(cause, context.Canceled) {
		status = history.StatusInterrupted
	}
	run := r.run(status)
	run.Error = oneLineOf(cause.Error(), 500)
	run.ExitCode = codeOf(cause)
	if _, err := r.store.Add(context.Background(), history.Record{Run: run}, history.Retention{}); err != nil {
		printf(r.g.stderr, "audit: could not record run %d as %s in the history %s: %v\n", r.id, status, r.store.Path(), err)
		return
	}
	printf(r.g.stderr, "history: run %d recorded as %s\n", r.id, status)
}

// notify sends the config's notifications about the run's drift, logs and records what became of each; a
// failed notification never changes the scan's result.
func (r *runRecorder) notify(ctx context.Context, g *globals, cfg *config.Config, ev *evaluation, quiet bool) {
	if cfg == nil || len(cfg.Notify) == 0 {
		return
	}
	if r == nil {
		if !quiet {
			printf(g.stderr, "notify: %s configured, but without --history there is no earlier run to compare with: nothing is sent\n",
				plural(len(cfg.Notify), "target is", "targets are"))
		}
		return
	}
	if ev.report.Drift == nil {
		return
	}
	targets := make([]notify.Target, len(cfg.Notify))
	vars := map[string]string{}
	for i, n := range cfg.Notify {
		targets[i] = notify.Target{Name: n.Name, Type: strings.ToLower(n.Type), URL: r.g.getenv(n.URLEnv), Events: n.Events(),
			AllowPrivate: n.AllowPrivateTargets,
			MinSeverity:  n.Severity(), Timeout: n.AttemptTimeout(), Retries: n.RetryCount()}
		vars[n.Name] = n.URLEnv
	}
	var tenants []string
	for _, t := range ev.report.Tenants {
		tenants = append(tenants, t.Name)
	}
	outs := (&notify.Sender{}).Send(ctx, targets, notify.Message{RunID: r.id, Tenants: tenants, At: ev.report.CollectedAt,
		Drift: ev.report.Drift, Verdict: verdictLine(ev.report)})
	var recs []history.Notification
	for _, o := range outs {
		if len(o.Events) == 0 {
			continue
		}
		n := history.Notification{Target: o.Target, Type: o.Type, Events: o.Events, Status: "sent", Attempts: o.Attempts, At: r.g.now()}
		if o.Err != nil {
			n.Status = "failed"
			n.Error = fmt.Sprintf("%v (url_env %s)", o.Err, vars[o.Target])
			printf(r.g.stderr, "audit: notify %s (%s): %s; the scan's result is unchanged\n", o.Target, o.Type, n.Error)
		} else {
			r.note(quiet, "notify: sent %s to %s (%s)", strings.Join(o.Events, ", "), o.Target, o.Type)
		}
		recs = append(recs, n)
	}
	if err := r.store.AddNotifications(context.WithoutCancel(ctx), r.id, recs); err != nil {
		printf(r.g.stderr, "audit: could not record the notifications of run %d: %v\n", r.id, err)
	}
}

// verdictLine says the scan's result in one sentence, for notifications.
func verdictLine(rep *report.Report) string {
	s := rep.Summary
	switch {
	case s.Errors > 0:
		return fmt.Sprintf("%s could not be audited; %s at or above %s.", plural(s.Errors, "environment or tenant", "environments or tenants"),
			plural(s.FailingAtOrAbove, "result fails", "results fail"), rep.FailOn)
	case s.FailingAtOrAbove > 0:
		return fmt.Sprintf("%s at or above %s.", plural(s.FailingAtOrAbove, "result fails", "results fail"), rep.FailOn)
	}
	return fmt.Sprintf("Nothing fails at or above %s.", rep.FailOn)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func oneLineOf(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

// historyCmdOptions are the flags of audit history.
type historyCmdOptions struct {
	path       string
	configPath string
	report     reportOptions
}

func newHistoryCmd(g *globals) *cobra.Command {
	var o historyCmdOptions
	cmd := &cobra.Command{
		Use:   "history [list | show RUN]",
		Short: "List the runs kept by --history, or show the report of one",
		Long: `history lists the runs of a history store (audit scan --history FILE): when each started, how it
ended, its scope (shard, environment filters), its exit code and failing results, and the notifications
sent after it. 'history show RUN' writes the report that run recorded, in any format (RUN is a run ID,
latest or previous).`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runHistoryList(cmd.Context(), g, o) }),
	}
	cmd.PersistentFlags().StringVar(&o.path, "history", "", "the history file (default: the config's history.path)")
	cmd.PersistentFlags().StringVarP(&o.configPath, "config", "c", "", "config file whose history.path to use")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the runs of the history",
		Args:  cobra.NoArgs,
		RunE:  runE(func(cmd *cobra.Command, _ []string) error { return runHistoryList(cmd.Context(), g, o) }),
	}
	show := &cobra.Command{
		Use:   "show RUN",
		Short: "Write the report a run recorded (RUN: an ID, latest or previous)",
		Args:  cobra.ExactArgs(1),
		RunE:  runE(func(cmd *cobra.Command, args []string) error { return runHistoryShow(cmd.Context(), g, args[0], o) }),
	}
	addReportFlags(show, &o.report)
	if f := show.Flags().Lookup("format"); f != nil {
		f.DefValue = "table"
		_ = f.Value.Set("table")
	}
	cmd.AddCommand(list, show)
	return cmd
}

// openHistory opens the store named by --history or by the config's history.path.
func openHistory(ctx context.Context, path, configPath string) (*history.Store, error) {
	if path == "" && configPath != "" {
		cfg, err := config.LoadSettings(configPath)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		path = cfg.HistoryPath()
	}
	if path == "" {
		return nil, usageError("name the history: --history FILE, or --config with a history.path")
	}
	st, err := history.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func runHistoryList(ctx context.Context, g *globals, o historyCmdOptions) error {
	st, err := openHistory(ctx, o.path, o.configPath)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.Runs(ctx)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		printf(g.stdout, "%s holds no run yet\n", st.Path())
		return nil
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED (UTC)\tTRIGGER\tSCOPE\tSTATUS\tEXIT\tFAILING\tNOT AUDITED\tNOTIFICATIONS")
	for _, r := range runs {
		failing, unaudited := "-", "-"
		if r.Summary != nil {
			failing = strconv.Itoa(r.Summary.Results[policy.StatusFail])
			unaudited = strconv.Itoa(r.Summary.Errors)
		}
		scope := r.Scope
		if scope == "" {
			scope = "all"
		}
		status := r.Status
		if r.Error != "" {
			status += ": " + oneLineOf(r.Error, 60)
		}
		ns, err := st.Notifications(ctx, r.ID)
		if err != nil {
			return err
		}
		sent, failed := 0, 0
		for _, n := range ns {
			if n.Status == "sent" {
				sent++
			} else {
				failed++
			}
		}
		notes := "-"
		if len(ns) > 0 {
			notes = fmt.Sprintf("%d sent, %d failed", sent, failed)
		}
		printf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.ID, r.StartedAt.UTC().Format("2006-01-02 15:04:05"), r.Trigger, scope,
			status, r.ExitCode, failing, unaudited, notes)
	}
	return tw.Flush()
}

func runHistoryShow(ctx context.Context, g *globals, ref string, o historyCmdOptions) error {
	if err := o.report.validate(); err != nil {
		return err
	}
	st, err := openHistory(ctx, o.path, o.configPath)
	if err != nil {
		return err
	}
	defer st.Close()
	run, err := st.Resolve(ctx, ref)
	if err != nil {
		return withCode(exitUsage, err)
	}
	rep, err := st.Report(ctx, run.ID)
	if err != nil {
		return err
	}
	return writeReports(g, &evaluation{report: rep}, o.report)
}
