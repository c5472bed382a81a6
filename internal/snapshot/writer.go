package snapshot

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
)

// Writer writes a snapshot file while its environments are collected: they are added one at a time, in any
// order and from any goroutine, and only their places are kept in memory. Each environment's encoding goes to
// a spool file beside the snapshot (owner-only, and removed from the directory at once where the system
// allows it, so it goes with the process); Close writes the snapshot in its canonical order, the order Sort
// gives, with the bytes Save writes for the same snapshot sorted. Until Close succeeds there is no snapshot
// file: a run that dies, or a Writer never closed, leaves whatever was at the path before.
type Writer struct {
	path string

	mu        sync.Mutex
	spool     *os.File
	spoolName string // until the spool is removed from the directory
	buf       *bufio.Writer
	size      int64
	envs      []spooled
	err       error // the first failure to spool, returned by every later call
	done      bool
}

// spooled is the place of one environment's encoding in the spool, and what orders it.
type spooled struct {
	tenant, index int
	name, id      string
	off, n        int64
}

// environmentPrefix begins the lines of an environment in a snapshot: it is an element of the environments
// of an element of the tenants, four levels deep.
const environmentPrefix = jsonIndent + jsonIndent + jsonIndent + jsonIndent

// ErrWriterClosed is returned by a Writer used after Close or Abort.
var ErrWriterClosed = errors.New("snapshot writer already closed")

var spoolEncoders = sync.Pool{New: func() any { return newJSONBuffer() }}

// NewWriter starts a snapshot file at path; the spool is created in the same directory.
func NewWriter(path string) (*Writer, error) {
	spool, err := os.CreateTemp(dirOf(path), ".spool-*")
	if err != nil {
		return nil, fmt.Errorf("create snapshot spool: %w", err)
	}
	w := &Writer{path: path, spool: spool, spoolName: spool.Name(), buf: bufio.NewWriterSize(spool, 64<<10)}
	// An open file removed from its directory stays readable until it is closed (Windows refuses: the spool
	// is then removed by Close and Abort).
	if os.Remove(spool.Name()) == nil {
		w.spoolName = ""
	}
	return w, nil
}

// Add adds an environment of the tenant at index tenant of the snapshot given to Close. index is its place
// in the tenant's list (the order BAP listed it in), which orders environments of the same name and ID as
// Sort keeps them. Add puts the environment's own lists in their canonical order, as Sort does, and keeps
// nothing of it but its name and ID: the caller must not use env meanwhile, and may drop it afterwards.
func (w *Writer) Add(tenant, index int, env *Environment) error {
	if env.Dataverse != nil {
		env.Dataverse.sort()
	}
	b := spoolEncoders.Get().(*jsonBuffer)
	defer func() {
		if b.buf.Cap() <= 1<<20 {
			spoolEncoders.Put(b)
		}
	}()
	data, err := b.encode(environmentPrefix, env)
	if err != nil {
		return fmt.Errorf("encode environment %s: %w", env.ID, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.done:
		return ErrWriterClosed
	case w.err != nil:
		return w.err
	}
	if _, err := w.buf.Write(data); err != nil {
		w.err = fmt.Errorf("spool environment %s: %w", env.ID, err)
		return w.err
	}
	w.envs = append(w.envs, spooled{tenant: tenant, index: index, name: env.Name, id: env.ID, off: w.size, n: int64(len(data))})
	w.size += int64(len(data))
	return nil
}

// Close writes the snapshot file: s with the environments added, each in the tenant it was added to. The
// tenants of s carry no environments of their own; a tenant to which none were added is written with its
// Environments as they are (null when nil, as Save writes it). Close removes the spool, and a Writer is
// closed once whatever the outcome.
func (w *Writer) Close(s *Snapshot) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return ErrWriterClosed
	}
	w.done = true
	defer w.release()
	if w.err != nil {
		return w.err
	}
	return WritePrivate(w.path, func(out io.Writer) error { return w.write(out, s) })
}

// write writes s with the spooled environments to out, in Sort's order.
func (w *Writer) write(out io.Writer, s *Snapshot) error {
	if err := w.buf.Flush(); err != nil {
		return fmt.Errorf("spool environments: %w", err)
	}
	for _, t := range s.Tenants {
		if len(t.Environments) > 0 {
			return fmt.Errorf("write snapshot: tenant %s has environments of its own; add them with Add", t.Name)
		}
	}
	byTenant := make([][]spooled, len(s.Tenants))
	for _, e := range w.envs {
		if e.tenant < 0 || e.tenant >= len(s.Tenants) {
			return fmt.Errorf("write snapshot: environment %s was added to tenant %d of %d", e.id, e.tenant, len(s.Tenants))
		}
		byTenant[e.tenant] = append(byTenant[e.tenant], e)
	}
	for _, envs := range byTenant {
		sort.SliceStable(envs, func(i, j int) bool {
			a, b := envs[i], envs[j]
			if a.name != b.name || a.id != b.id {
				return less(a.name, a.id, b.name, b.id)
			}
			return a.index < b.index
		})
	}
	// Tenants in Sort's order, each remembering its place in s.
	order := make([]int, len(s.Tenants))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return s.Tenants[order[i]].Name < s.Tenants[order[j]].Name })
	sorted := *s
	sorted.Tenants = make([]Tenant, len(s.Tenants))
	for i, t := range order {
		sorted.Tenants[i] = s.Tenants[t]
	}
	return encode(out, &sorted, func(t int) int { return len(byTenant[order[t]]) }, func(t int, a *JSONArray) error {
		for _, e := range byTenant[order[t]] {
			if err := a.addEncoded(io.NewSectionReader(w.spool, e.off, e.n)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Abort gives the snapshot up: no file is written and the spool is removed. It does nothing after Close.
func (w *Writer) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.done = true
		w.release()
	}
}

func (w *Writer) release() {
	w.spool.Close()
	if w.spoolName != "" {
		os.Remove(w.spoolName)
	}
	w.envs = nil
}
