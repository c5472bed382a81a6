package audit

import (
	"context"
	"fmt"
	"sync"

	"github.com/work365/audit/internal/snapshot"
)

// snapshotFile writes a snapshot file while the collection goes: each environment is written out (to the
// writer's spool) as soon as it is read, so that its data can be let go. The file itself appears only when
// close succeeds; until then whatever was at the path stays.
type snapshotFile struct {
	w *snapshot.Writer

	mu      sync.Mutex
	tenants []*snapshot.Tenant       // as listed, in the order they were
	index   map[*snapshot.Tenant]int // each one's place in tenants
	err     error                    // the first failure to write
}

func newSnapshotFile(path string) (*snapshotFile, error) {
	if path == "-" {
		return nil, errSnapshotToStdout
	}
	w, err := snapshot.NewWriter(path)
	if err != nil {
		return nil, fmt.Errorf("save snapshot: %w", err)
	}
	return &snapshotFile{w: w, index: map[*snapshot.Tenant]int{}}, nil
}

func (f *snapshotFile) Listed(t *snapshot.Tenant) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index[t] = len(f.tenants)
	f.tenants = append(f.tenants, t)
}

// Environment writes the environment out; a failure is kept for close (and the scan goes on: its reports do
// not depend on the file).
func (f *snapshotFile) Environment(t *snapshot.Tenant, index int, env *snapshot.Environment) {
	if err := f.add(t, index, env); err != nil {
		f.mu.Lock()
		if f.err == nil {
			f.err = err
		}
		f.mu.Unlock()
	}
}

func (f *snapshotFile) add(t *snapshot.Tenant, index int, env *snapshot.Environment) error {
	f.mu.Lock()
	ti, ok := f.index[t]
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("save snapshot: environment %s of a tenant never listed", env.ID)
	}
	if err := f.w.Add(ti, index, env); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	return nil
}

func (f *snapshotFile) Done(*snapshot.Tenant) {}

// close writes the file: snap's header (what Collect returned, its environments without their data) with the
// environments written out, each in its tenant.
func (f *snapshotFile) close(snap *snapshot.Snapshot) error {
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		f.w.Abort()
		return err
	}
	header := *snap
	header.Tenants = make([]snapshot.Tenant, len(f.tenants))
	for i, t := range f.tenants {
		header.Tenants[i] = *t
		// Every environment listed was added: the header's list is empty, null where the tenant's was.
		header.Tenants[i].Environments = t.Environments[:0:0]
	}
	if err := f.w.Close(&header); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	return nil
}

func (f *snapshotFile) abort() { f.w.Abort() }

// CollectTo reads every environment in scope and writes the snapshot file at path as it goes: each
// environment's data is written out and let go as soon as it is read, so memory does not grow with what the
// environments hold. The snapshot returned holds every environment without its Dataverse data (for counts);
// the file holds them whole, byte for byte what snapshot.Save writes for Collect's snapshot.
func (s *Session) CollectTo(ctx context.Context, path string) (*snapshot.Snapshot, error) {
	f, err := newSnapshotFile(path)
	if err != nil {
		return nil, err
	}
	snap, err := s.collect(ctx, f)
	if err != nil {
		f.abort()
		return nil, err
	}
	if err := f.close(snap); err != nil {
		return nil, err
	}
	return snap, nil
}
