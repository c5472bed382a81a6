package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/snapshot"
)

// ScanOptions shape a scan that is kept: its snapshot, its history and its part of a sharded scan.
type ScanOptions struct {
	Snapshot  string // also save the collected snapshot to this file
	History   History
	Shard     Shard
	Trigger   string // what started the run: scan, schedule
	ReportDir string // where the run's reports go ("-" for standard output), for the history's messages
}

// RunScan is one scan, whole: it collects and evaluates, compares the run with the previous one of its scope
// in the history, hands the evaluation to write (the reports), then records the run and sends the
// notifications. A run that fails or is interrupted before its reports are written is recorded so.
func (s *Session) RunScan(ctx context.Context, o ScanOptions, write func(*Evaluation) error) (*Evaluation, error) {
	rec, err := OpenRecorder(ctx, s.deps, o.History, Scope(o.Shard, s.settings.Envs), "", s.settings.FailOn, o.Trigger)
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	fail := func(err error) (*Evaluation, error) {
		rec.Abandon(err)
		return nil, err
	}
	// Each environment is evaluated as it arrives and its data let go; what keeps the data (the snapshot file,
	// the history) has it written out as it goes.
	path := o.Snapshot
	if path == "" && rec != nil {
		dir, err := os.MkdirTemp("", "audit-run-*") // owner-only
		if err != nil {
			return fail(fmt.Errorf("keep the run's snapshot for the history: %w", err))
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "snapshot.json")
	}
	// The bound on the heap the streaming scan sets holds while the reports are written too.
	defer policy.BoundGC().Release()
	ev, err := s.ScanStreaming(ctx, path)
	if err == nil && rec.WatchesInterrupts(o.Trigger) && ctx.Err() != nil {
		err = ErrInterrupted
	}
	if err != nil {
		return fail(err)
	}
	rec.SetDigest(ev.Report.Policy.Digest)
	o.Shard.Mark(ev.Report)
	rec.Compare(ctx, ev)
	if err := write(ev); err != nil {
		return fail(err)
	}
	return ev, rec.Finish(ctx, ev, s.cfg, o.ReportDir)
}

// errSnapshotToStdout refuses "-" as a snapshot file: standard output carries the reports.
var errSnapshotToStdout = errors.New("the snapshot cannot go to standard output here; give a file name")

// SaveSnapshot writes a snapshot file, readable by its owner only.
func SaveSnapshot(path string, snap *snapshot.Snapshot) error {
	if path == "-" {
		return errSnapshotToStdout
	}
	if err := snapshot.Save(path, snap); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	return nil
}
