// Package history keeps every scan in a single SQLite file (through a pure-Go driver, no cgo): the run's
// metadata (tool version and digest, policy digest, scope, status, exit code), its report and snapshot, the
// status of every (environment, rule) pair with when its failure was first seen, what the run could not read
// with the earlier run that last read it, and the notifications sent after it. Each run is written in one
// transaction, so a run that dies leaves no half-written record, and one run at a time holds the store
// (Acquire), so two runs never interleave.
package history

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
)

// Run statuses.
const (
	StatusComplete    = "complete"    // the scan ran to its end; its results are recorded
	StatusInterrupted = "interrupted" // a signal ended it: no results
	StatusFailed      = "failed"      // an error ended it: no results
)

// Store is an open history file.
type Store struct {
	db   *sql.DB
	path string
	lock *os.File
}

// ErrNotFound is wrapped by the errors of lookups that found no run.
var ErrNotFound = errors.New("no such run")

// timeFormat has a fixed width, so that stored times sort as text.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Open opens an existing history file to read it (audit diff, audit history). It migrates an older schema.
func Open(ctx context.Context, path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no history at %s: scans record one with --history %s", path, path)
		}
		return nil, fmt.Errorf("open history: %w", err)
	}
	return open(ctx, path)
}

// Acquire opens the history file for a run, creating it (owner-only, in an owner-only directory) when
// missing, and holds it until Close: a second Acquire of the same file, from any process, fails with an
// error that says who holds it. The hold is an advisory lock on PATH.lock, which the kernel releases if
// the process dies.
func Acquire(ctx context.Context, path string, now time.Time) (*Store, error) {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create history directory: %w", err)
		}
	}
	lock, err := lockFile(path+".lock", now)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		unlock(lock)
		return nil, fmt.Errorf("create history: %w", err)
	}
	f.Close()
	s, err := open(ctx, path)
	if err != nil {
		unlock(lock)
		return nil, err
	}
	s.lock = lock
	return s, nil
}

func open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(DELETE)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open history %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	err = db.PingContext(ctx)
	if err == nil {
		err = migrate(ctx, db)
	}
	if err != nil {
		db.Close()
		if strings.Contains(err.Error(), "file is not a database") {
			return nil, fmt.Errorf("%s is not a history file (not an SQLite database)", path)
		}
		return nil, fmt.Errorf("open history %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Path is the file of the store.
func (s *Store) Path() string { return s.path }

// Close closes the store and gives its hold back.
func (s *Store) Close() error {
	err := s.db.Close()
	unlock(s.lock)
	s.lock = nil
	return err
}

// Run is a run as the store lists it.
type Run struct {
	ID           int64
	StartedAt    time.Time
	FinishedAt   time.Time
	Status       string
	Trigger      string // scan, schedule or merge
	Scope        string // "" for a scan of everything configured; else its shard and environment filters
	ToolVersion  string
	ToolDigest   string
	PolicyDigest string
	FailOn       string
	CollectedAt  time.Time
	ExitCode     int
	Error        string
	Summary      *report.Summary
}

// Seen is when the failure of a pair was first seen.
type Seen struct {
	At    time.Time
	RunID int64
}

// Record is what a run leaves in the store.
type Record struct {
	Run
	// Report and Snapshot are those of a complete run (Snapshot may be nil: merged runs have none).
	Report   *report.Report
	Snapshot *snapshot.Snapshot
	// SnapshotFile, when Snapshot is nil, is a snapshot file of the run (a scan that let each environment's
	// data go as it went), stored as it is, compressed as it is read.
	SnapshotFile string
	// FirstSeen holds, by environment ID and rule ID, when each failing pair of the report was first seen.
	FirstSeen map[[2]string]Seen
	// LastRead lists what the run could not read, each with the earlier run that last read it.
	LastRead []LastRead
}

// LastRead is something a run could not read and the earlier run of its scope that last read it: an
// (environment, rule) pair, an environment's inventory (RuleID ""), or a tenant's environment list
// (EnvironmentID and RuleID ""). Retention keeps the runs that the newest run of a scope names here.
type LastRead struct {
	Tenant        string
	EnvironmentID string
	RuleID        string
	RunID         int64
}

// Retention says which runs to keep after a new one is recorded: the Keep newest (0: all) and those newer
// than MaxAge (0: any age). The run just recorded is always kept.
type Retention struct {
	Keep   int
	MaxAge time.Duration
}

// NextID is the ID the next recorded run gets. Only the holder of the store (Acquire) may rely on it.
func (s *Store) NextID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	if err := s.db.QueryRowContext(ctx, "SELECT max(id) FROM runs").Scan(&id); err != nil {
		return 0, fmt.Errorf("read history: %w", err)
	}
	return id.Int64 + 1, nil
}

// Add records a run, its results and its data in one transaction, then applies the retention in the same
// transaction. It returns the number of older runs removed.
func (s *Store) Add(ctx context.Context, rec Record, keep Retention) (int, error) {
	if s.lock == nil {
		return 0, errors.New("record run: the history is open read-only")
	}
	if rec.ID == 0 {
		return 0, errors.New("record run: no run ID (use NextID)")
	}
	var summary, rep, snap []byte
	var err error
	if rec.Report != nil {
		if summary, err = json.Marshal(rec.Report.Summary); err != nil {
			return 0, err
		}
		if rep, err = compressJSON(rec.Report); err != nil {
			return 0, err
		}
	}
	switch {
	case rec.Snapshot != nil:
		if snap, err = compressJSON(rec.Snapshot); err != nil {
			return 0, err
		}
	case rec.SnapshotFile != "":
		if snap, err = compressFile(rec.SnapshotFile); err != nil {
			return 0, fmt.Errorf("record run: snapshot: %w", err)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO runs (id, started_at, finished_at, status, trigger, scope, tool_version, tool_digest,
		policy_digest, fail_on, collected_at, exit_code, error, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.ID, ts(rec.StartedAt), ts(rec.FinishedAt), rec.Status, rec.Trigger, rec.Scope, rec.ToolVersion, rec.ToolDigest,
		rec.PolicyDigest, rec.FailOn, nullTime(rec.CollectedAt), rec.ExitCode, nullString(rec.Error), nullBytes(summary))
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	if rep != nil || snap != nil {
		if _, err := tx.ExecContext(ctx, "INSERT INTO run_data (run_id, report, snapshot) VALUES (?, ?, ?)", rec.ID, nullBytes(rep), nullBytes(snap)); err != nil {
			return 0, fmt.Errorf("record run data: %w", err)
		}
	}
	if rec.Report != nil {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO results (run_id, tenant, environment_id, environment, rule_id, status, severity,
			first_seen, first_seen_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return 0, fmt.Errorf("record results: %w", err)
		}
		defer stmt.Close()
		for _, r := range rec.Report.Results {
			var first, firstRun any
			if seen, ok := rec.FirstSeen[[2]string{strings.ToLower(r.EnvironmentID), r.RuleID}]; ok {
				first, firstRun = ts(seen.At), seen.RunID
			}
			if _, err := stmt.ExecContext(ctx, rec.ID, r.Tenant, strings.ToLower(r.EnvironmentID), r.EnvironmentName, r.RuleID, r.Status,
				r.Severity, first, firstRun); err != nil {
				return 0, fmt.Errorf("record results: %w", err)
			}
		}
	}
	if len(rec.LastRead) > 0 {
		stmt, err := tx.PrepareContext(ctx, "INSERT INTO last_read (run_id, tenant, environment_id, rule_id, read_run) VALUES (?, ?, ?, ?, ?)")
		if err != nil {
			return 0, fmt.Errorf("record what the run could not read: %w", err)
		}
		defer stmt.Close()
		for _, l := range rec.LastRead {
			if l.RunID <= 0 || l.RunID >= rec.ID {
				return 0, fmt.Errorf("record what the run could not read: %s %s %s: run %d is not an earlier run", l.Tenant, l.EnvironmentID, l.RuleID, l.RunID)
			}
			if _, err := stmt.ExecContext(ctx, rec.ID, l.Tenant, strings.ToLower(l.EnvironmentID), l.RuleID, l.RunID); err != nil {
				return 0, fmt.Errorf("record what the run could not read: %w", err)
			}
		}
	}
	removed, err := prune(ctx, tx, rec.ID, rec.FinishedAt, keep)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	return removed, nil
}

// stillRead selects the runs that the newest complete run of some scope names as the last to read
// something it could not: the next run of that scope compares with them, so retention keeps them.
const stillRead = `id NOT IN (SELECT read_run FROM last_read WHERE run_id IN (SELECT max(id) FROM runs WHERE status = 'complete' GROUP BY scope))`

func prune(ctx context.Context, tx *sql.Tx, current int64, now time.Time, keep Retention) (int, error) {
	removed := 0
	if keep.Keep > 0 {
		res, err := tx.ExecContext(ctx, "DELETE FROM runs WHERE id <> ? AND id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?) AND "+stillRead, current, keep.Keep)
		if err != nil {
			return 0, fmt.Errorf("apply retention: %w", err)
		}
		n, _ := res.RowsAffected()
		removed += int(n)
	}
	if keep.MaxAge > 0 {
		res, err := tx.ExecContext(ctx, "DELETE FROM runs WHERE id <> ? AND started_at < ? AND "+stillRead, current, ts(now.Add(-keep.MaxAge)))
		if err != nil {
			return 0, fmt.Errorf("apply retention: %w", err)
		}
		n, _ := res.RowsAffected()
		removed += int(n)
	}
	return removed, nil
}

// Notification is the outcome of one notification target after a run.
type Notification struct {
	Target   string
	Type     string
	Events   []string
	Status   string // sent or failed
	Attempts int
	Error    string
	At       time.Time
}

// AddNotifications records the notifications sent after a run, in one transaction.
func (s *Store) AddNotifications(ctx context.Context, runID int64, ns []Notification) error {
	if len(ns) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record notifications: %w", err)
	}
	defer tx.Rollback()
	for _, n := range ns {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notifications (run_id, target, type, events, status, attempts, error, sent_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, runID, n.Target, n.Type, strings.Join(n.Events, ","), n.Status, n.Attempts,
			nullString(n.Error), ts(n.At)); err != nil {
			return fmt.Errorf("record notifications: %w", err)
		}
	}
	return tx.Commit()
}

// Notifications lists the notifications recorded for a run, by target.
func (s *Store) Notifications(ctx context.Context, runID int64) ([]Notification, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT target, type, events, status, attempts, error, sent_at FROM notifications
		WHERE run_id = ? ORDER BY target`, runID)
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var n Notification
		var events, at string
		var msg sql.NullString
		if err := rows.Scan(&n.Target, &n.Type, &events, &n.Status, &n.Attempts, &msg, &at); err != nil {
			return nil, fmt.Errorf("read notifications: %w", err)
		}
		if events != "" {
			n.Events = strings.Split(events, ",")
		}
		n.Error = msg.String
		n.At = parseTime(at)
		out = append(out, n)
	}
	return out, rows.Err()
}

const runColumns = `id, started_at, finished_at, status, trigger, scope, tool_version, tool_digest, policy_digest, fail_on,
	collected_at, exit_code, error, summary`

func scanRun(sc interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var started, finished string
	var collected, msg, summary sql.NullString
	var code sql.NullInt64
	if err := sc.Scan(&r.ID, &started, &finished, &r.Status, &r.Trigger, &r.Scope, &r.ToolVersion, &r.ToolDigest, &r.PolicyDigest,
		&r.FailOn, &collected, &code, &msg, &summary); err != nil {
		return r, err
	}
	r.StartedAt, r.FinishedAt, r.CollectedAt = parseTime(started), parseTime(finished), parseTime(collected.String)
	r.ExitCode, r.Error = int(code.Int64), msg.String
	if summary.Valid {
		var s report.Summary
		if json.Unmarshal([]byte(summary.String), &s) == nil {
			r.Summary = &s
		}
	}
	return r, nil
}

// Runs lists every run, oldest first.
func (s *Store) Runs(ctx context.Context) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+runColumns+" FROM runs ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Get returns one run.
func (s *Store) Get(ctx context.Context, id int64) (Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, "SELECT "+runColumns+" FROM runs WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("run %d: %w in %s", id, ErrNotFound, s.path)
	}
	if err != nil {
		return r, fmt.Errorf("read history: %w", err)
	}
	return r, nil
}

// Latest returns the newest complete run of a scope, optionally older than run before (0: any).
func (s *Store) Latest(ctx context.Context, scope string, before int64) (Run, error) {
	if before == 0 {
		before = 1<<63 - 1
	}
	r, err := scanRun(s.db.QueryRowContext(ctx, "SELECT "+runColumns+" FROM runs WHERE scope = ? AND status = ? AND id < ? ORDER BY id DESC LIMIT 1",
		scope, StatusComplete, before))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("%w of this scope", ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("read history: %w", err)
	}
	return r, nil
}

// Resolve finds a complete run by reference: a run ID, "latest" (the newest complete run) or "previous"
// (the complete run before the newest one of the same scope).
func (s *Store) Resolve(ctx context.Context, ref string) (Run, error) {
	switch strings.ToLower(ref) {
	case "latest", "previous":
		r, err := scanRun(s.db.QueryRowContext(ctx, "SELECT "+runColumns+" FROM runs WHERE status = ? ORDER BY id DESC LIMIT 1", StatusComplete))
		if errors.Is(err, sql.ErrNoRows) {
			return r, fmt.Errorf("%s: no complete run in %s yet", ref, s.path)
		}
		if err != nil || strings.EqualFold(ref, "latest") {
			return r, err
		}
		p, err := s.Latest(ctx, r.Scope, r.ID)
		if errors.Is(err, ErrNotFound) {
			return p, fmt.Errorf("previous: the history %s holds only one complete run of the latest run's scope", s.path)
		}
		return p, err
	}
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || id <= 0 {
		return Run{}, fmt.Errorf("run %q: use a run ID, latest or previous", ref)
	}
	r, err := s.Get(ctx, id)
	if err != nil {
		return r, err
	}
	if r.Status != StatusComplete {
		return r, fmt.Errorf("run %d was %s: it has no results to compare", id, r.Status)
	}
	return r, nil
}

// Report returns the report a run recorded.
func (s *Store) Report(ctx context.Context, id int64) (*report.Report, error) {
	var raw []byte
	err := s.db.QueryRowContext(ctx, "SELECT report FROM run_data WHERE run_id = ?", id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && raw == nil) {
		return nil, fmt.Errorf("run %d: no report recorded", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read run %d: %w", id, err)
	}
	var r report.Report
	if err := decompressJSON(raw, &r); err != nil {
		return nil, fmt.Errorf("read the report of run %d: %w", id, err)
	}
	return &r, nil
}

// Snapshot returns the snapshot a run recorded (nil for a merged run, which has none).
func (s *Store) Snapshot(ctx context.Context, id int64) (*snapshot.Snapshot, error) {
	var raw []byte
	err := s.db.QueryRowContext(ctx, "SELECT snapshot FROM run_data WHERE run_id = ?", id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && raw == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read run %d: %w", id, err)
	}
	r, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read the snapshot of run %d: %w", id, err)
	}
	snap, err := snapshot.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("read the snapshot of run %d: %w", id, err)
	}
	return snap, nil
}

// FirstSeen returns when the failing pairs of a run were first seen, by environment ID and rule ID.
func (s *Store) FirstSeen(ctx context.Context, id int64) (map[[2]string]Seen, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT environment_id, rule_id, first_seen, first_seen_run FROM results WHERE run_id = ? AND first_seen IS NOT NULL", id)
	if err != nil {
		return nil, fmt.Errorf("read run %d: %w", id, err)
	}
	defer rows.Close()
	out := map[[2]string]Seen{}
	for rows.Next() {
		var env, rule, at string
		var run sql.NullInt64
		if err := rows.Scan(&env, &rule, &at, &run); err != nil {
			return nil, fmt.Errorf("read run %d: %w", id, err)
		}
		out[[2]string{env, rule}] = Seen{At: parseTime(at), RunID: run.Int64}
	}
	return out, rows.Err()
}

// LastRead lists what a run could not read, with the earlier run that last read each.
func (s *Store) LastRead(ctx context.Context, id int64) ([]LastRead, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT tenant, environment_id, rule_id, read_run FROM last_read WHERE run_id = ? ORDER BY tenant, environment_id, rule_id", id)
	if err != nil {
		return nil, fmt.Errorf("read run %d: %w", id, err)
	}
	defer rows.Close()
	var out []LastRead
	for rows.Next() {
		var l LastRead
		if err := rows.Scan(&l.Tenant, &l.EnvironmentID, &l.RuleID, &l.RunID); err != nil {
			return nil, fmt.Errorf("read run %d: %w", id, err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func compressJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// compressFile compresses a JSON file as compressJSON compresses a value, reading it as it goes.
func compressFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := io.Copy(zw, f); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decompressJSON(raw []byte, v any) error {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func ts(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
