package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/drift"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/notify"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/termtext"
)

// History says where a run is kept and for how long.
type History struct {
	Path string // the store; "" keeps no history
	Keep string // --keep as given (N runs, or Nd days); "" falls back to the config's history section
	// Retention is Keep, or the config's, once Resolve has run.
	Retention history.Retention
}

// Resolve completes the history options from the config's history section. A fix run and a part of a
// sharded scan keep no history unless a path is given: parts usually run side by side, and audit merge
// records the whole scan.
func (h *History) Resolve(cfg *config.Config, fix, sharded bool) error {
	if h.Path == "" && cfg != nil && !fix && !sharded {
		h.Path = cfg.HistoryPath()
	}
	if h.Keep == "" && h.Path == "" {
		return nil
	}
	if h.Path == "" {
		return Usagef("--keep needs a history: give --history FILE or set history.path in the config")
	}
	if h.Keep != "" {
		r, err := ParseKeep(h.Keep)
		h.Retention = r
		return err
	}
	if cfg != nil {
		h.Retention = history.Retention{Keep: cfg.History.Keep, MaxAge: time.Duration(cfg.History.KeepDays) * 24 * time.Hour}
	}
	return nil
}

// Recorder keeps one run in the history: it holds the store for the whole run, compares the run with the
// previous one of its scope, records it, and sends and records the notifications. A nil Recorder (no
// history) records nothing, and Finish only says that notifications need a history.
type Recorder struct {
	deps     Deps
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

// OpenRecorder takes the history store for a run of the given scope (Scope), policy digest and threshold;
// trigger names what started it (scan, schedule, merge). It returns nil without a history path.
func OpenRecorder(ctx context.Context, deps Deps, h History, scope, policyDigest, failOn, trigger string) (*Recorder, error) {
	if h.Path == "" {
		return nil, nil
	}
	started := deps.now()
	st, err := history.Acquire(ctx, h.Path, started)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", h.Path, err)
	}
	id, err := st.NextID(ctx)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("history %s: %w", h.Path, err)
	}
	return &Recorder{deps: deps, store: st, id: id, trigger: trigger, scope: scope, started: started, keep: h.Retention,
		digest: policyDigest, failOn: failOn}, nil
}

// SetDigest records the policy bundle a run was evaluated with, when it was not known as the run began (the
// rules compile while the tenants are read).
func (r *Recorder) SetDigest(d string) {
	if r != nil {
		r.digest = d
	}
}

// WatchesInterrupts says whether a signal during collection ends the run as interrupted: with a history or
// in the scheduler. A plain scan keeps its behaviour of reporting what it could read.
func (r *Recorder) WatchesInterrupts(trigger string) bool {
	return r != nil || trigger == "schedule"
}

// Close gives the store back.
func (r *Recorder) Close() {
	if r != nil {
		r.store.Close()
	}
}

func (r *Recorder) note(format string, args ...any) {
	if !r.deps.Quiet {
		termtext.Fprintf(r.deps.stderr(), format+"\n", args...)
	}
}

// Compare sets the report's drift against the previous complete run of the same scope, and says it in one
// line. What that run could not read is compared with the last run that read it.
func (r *Recorder) Compare(ctx context.Context, ev *Evaluation) {
	if r == nil {
		return
	}
	cur := drift.Scan{Report: ev.Report, RunID: r.id}
	r.seen = drift.FirstSeen(nil, cur)
	base, err := r.store.Latest(ctx, r.scope, 0)
	if errors.Is(err, history.ErrNotFound) {
		r.note("drift: run %d is the first of its scope in %s; later runs are compared with it", r.id, r.store.Path())
		return
	}
	var b *drift.Scan
	if err == nil {
		b, err = r.store.Scan(ctx, base.ID)
	}
	if err != nil {
		termtext.Fprintf(r.deps.stderr(), "audit: drift: could not read the previous run from %s (%v); this run is recorded without a comparison\n", r.store.Path(), err)
		return
	}
	ev.Report.Drift = drift.Compare(*b, cur)
	r.seen = drift.FirstSeen(b, cur)
	r.lastRead = drift.Unread(b, cur)
	r.note("drift: %s", ev.Report.Drift.Line())
}

func (r *Recorder) run(status string) history.Run {
	return history.Run{ID: r.id, StartedAt: r.started, FinishedAt: r.deps.now(), Status: status, Trigger: r.trigger, Scope: r.scope,
		ToolVersion: r.deps.ToolVersion, ToolDigest: toolDigest(), PolicyDigest: r.digest, FailOn: r.failOn}
}

// Finish records the complete run and sends the config's notifications about its drift (cfg may be nil).
// The run's reports are already written, in reportDir ("-" for standard output): a failure to record loses
// no result, and the error says where they are. A failed notification never changes the run's result.
func (r *Recorder) Finish(ctx context.Context, ev *Evaluation, cfg *config.Config, reportDir string) error {
	if r == nil {
		if cfg != nil && len(cfg.Notify) > 0 && !r.quiet() {
			termtext.Fprintf(r.stderr(), "notify: %s configured, but without --history there is no earlier run to compare with: nothing is sent\n",
				Plural(len(cfg.Notify), "target is", "targets are"))
		}
		return nil
	}
	if err := r.record(ctx, ev, reportDir); err != nil {
		return err
	}
	r.notify(ctx, cfg, ev)
	return nil
}

// quiet and stderr serve a nil Recorder too, which has no deps: it then says nothing.
func (r *Recorder) quiet() bool { return r == nil || r.deps.Quiet }

func (r *Recorder) stderr() io.Writer {
	if r == nil {
		return io.Discard
	}
	return r.deps.stderr()
}

func (r *Recorder) record(ctx context.Context, ev *Evaluation, reportDir string) error {
	run := r.run(history.StatusComplete)
	run.CollectedAt, run.ExitCode = ev.Report.CollectedAt, CodeOf(ev.Exit())
	rec := history.Record{Run: run, Report: ev.Report, Snapshot: ev.Snapshot, SnapshotFile: ev.SnapshotFile,
		FirstSeen: history.FirstSeenOf(r.seen), LastRead: history.LastReadOf(r.lastRead)}
	if rec.SnapshotFile != "" {
		rec.Snapshot = nil // without the environments' data: the file has it
	}
	removed, err := r.store.Add(context.WithoutCancel(ctx), rec, r.keep)
	r.recorded = true
	if err != nil {
		where := "the reports of this run were written all the same"
		if reportDir != "-" {
			where = "the reports of this run are in " + orDefault(reportDir)
		}
		return fmt.Errorf("record run %d in the history %s: %w (%s)", r.id, r.store.Path(), err, where)
	}
	msg := fmt.Sprintf("history: recorded run %d in %s", r.id, r.store.Path())
	if removed > 0 {
		msg += fmt.Sprintf("; removed %s (retention)", Plural(removed, "older run", "older runs"))
	}
	r.note("%s", msg)
	return nil
}

// Abandon records a run that did not finish: interrupted by a signal, or failed, without results.
func (r *Recorder) Abandon(cause error) {
	if r == nil || r.recorded {
		return
	}
	r.recorded = true
	status := history.StatusFailed
	if errors.Is(cause, ErrInterrupted) || errors.Is(cause, context.Canceled) {
		status = history.StatusInterrupted
	}
	run := r.run(status)
	run.Error = OneLine(cause.Error(), 500)
	run.ExitCode = CodeOf(cause)
	if _, err := r.store.Add(context.Background(), history.Record{Run: run}, history.Retention{}); err != nil {
		termtext.Fprintf(r.deps.stderr(), "audit: could not record run %d as %s in the history %s: %v\n", r.id, status, r.store.Path(), err)
		return
	}
	termtext.Fprintf(r.deps.stderr(), "history: run %d recorded as %s\n", r.id, status)
}

// notify sends the config's notifications about the run's drift, logs and records what became of each.
func (r *Recorder) notify(ctx context.Context, cfg *config.Config, ev *Evaluation) {
	if cfg == nil || len(cfg.Notify) == 0 || ev.Report.Drift == nil {
		return
	}
	getenv := r.deps.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	targets := make([]notify.Target, len(cfg.Notify))
	vars := map[string]string{}
	for i, n := range cfg.Notify {
		targets[i] = notify.Target{Name: n.Name, Type: strings.ToLower(n.Type), URL: getenv(n.URLEnv), Events: n.Events(),
			AllowPrivate: n.AllowPrivateTargets,
			MinSeverity:  n.Severity(), Timeout: n.AttemptTimeout(), Retries: n.RetryCount()}
		vars[n.Name] = n.URLEnv
	}
	var tenants []string
	for _, t := range ev.Report.Tenants {
		tenants = append(tenants, t.Name)
	}
	outs := (&notify.Sender{}).Send(ctx, targets, notify.Message{RunID: r.id, Tenants: tenants, At: ev.Report.CollectedAt,
		Drift: ev.Report.Drift, Verdict: Verdict(ev.Report)})
	var recs []history.Notification
	for _, o := range outs {
		if len(o.Events) == 0 {
			continue
		}
		n := history.Notification{Target: o.Target, Type: o.Type, Events: o.Events, Status: "sent", Attempts: o.Attempts, At: r.deps.now()}
		if o.Err != nil {
			n.Status = "failed"
			n.Error = fmt.Sprintf("%v (url_env %s)", o.Err, vars[o.Target])
			termtext.Fprintf(r.deps.stderr(), "audit: notify %s (%s): %s; the scan's result is unchanged\n", o.Target, o.Type, n.Error)
		} else {
			r.note("notify: sent %s to %s (%s)", strings.Join(o.Events, ", "), o.Target, o.Type)
		}
		recs = append(recs, n)
	}
	if err := r.store.AddNotifications(context.WithoutCancel(ctx), r.id, recs); err != nil {
		termtext.Fprintf(r.deps.stderr(), "audit: could not record the notifications of run %d: %v\n", r.id, err)
	}
}

// Verdict says a report's result in one sentence, for notifications.
func Verdict(rep *report.Report) string {
	s := rep.Summary
	switch {
	case s.Errors > 0:
		return fmt.Sprintf("%s could not be audited; %s at or above %s.", Plural(s.Errors, "environment or tenant", "environments or tenants"),
			Plural(s.FailingAtOrAbove, "result fails", "results fail"), rep.FailOn)
	case s.FailingAtOrAbove > 0:
		return fmt.Sprintf("%s at or above %s.", Plural(s.FailingAtOrAbove, "result fails", "results fail"), rep.FailOn)
	}
	return fmt.Sprintf("Nothing fails at or above %s.", rep.FailOn)
}

// Plural is "1 one" or "n many".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// OneLine is s on one line, cut to max runes.
func OneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

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
