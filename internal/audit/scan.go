package audit

import (
	"context"
	"fmt"

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
	var ev *Evaluation
	if o.Snapshot == "" && rec == nil {
		// Nothing keeps the environments' data: each is evaluated as it arrives and let go.
		ev, err = s.ScanStreaming(ctx, nil)
	} else {
		ev, err = s.scanKeepingData(ctx, o.Snapshot)
	}
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

// scanKeepingData is a scan whose snapshot is kept whole: saved to a file, or recorded in the history.
func (s *Session) scanKeepingData(ctx context.Context, path string) (*Evaluation, error) {
	snap, err := s.Collect(ctx)
	if err != nil {
		return nil, err
	}
	if path != "" {
		if err := SaveSnapshot(path, snap); err != nil {
			return nil, err
		}
	}
	return s.Evaluate(ctx, snap)
}

// SaveSnapshot writes a snapshot file, readable by its owner only.
func SaveSnapshot(path string, snap *snapshot.Snapshot) error {
	if path == "-" {
		return fmt.Errorf("the snapshot cannot go to standard output here; give a file name")
	}
	if err := snapshot.Save(path, snap); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	return nil
}
