package history

import (
	"context"
	"errors"
	"sort"

	"github.com/work365/audit/internal/drift"
)

// Scan reads a complete run as drift compares it: its report, when its failures were first seen, and, for
// what it could not read, the earlier runs that last read it, read once each. An earlier run that is gone
// (deleted by hand, or by the retention of a build that did not keep such runs) is left out: what only it had
// read counts as never read.
func (s *Store) Scan(ctx context.Context, id int64) (*drift.Scan, error) {
	sc, err := s.scan(ctx, id)
	if err != nil {
		return nil, err
	}
	rows, err := s.LastRead(ctx, id)
	if err != nil {
		return nil, err
	}
	earlier := map[int64]*drift.Scan{}
	for _, l := range rows {
		e, ok := earlier[l.RunID]
		if !ok {
			if e, err = s.scan(ctx, l.RunID); errors.Is(err, ErrNotFound) {
				e = nil
			} else if err != nil {
				return nil, err
			}
			earlier[l.RunID] = e
		}
		if e == nil {
			continue
		}
		switch {
		case l.EnvironmentID == "":
			sc.LastRead.Tenants[l.Tenant] = e
		case l.RuleID == "":
			sc.LastRead.Environments[l.EnvironmentID] = drift.Reading{Tenant: l.Tenant, Scan: e}
		default:
			sc.LastRead.Pairs[drift.Key{EnvironmentID: l.EnvironmentID, RuleID: l.RuleID}] = drift.Reading{Tenant: l.Tenant, Scan: e}
		}
	}
	return sc, nil
}

// scan reads a run's report and first-seen times; a run that is not in the store is ErrNotFound.
func (s *Store) scan(ctx context.Context, id int64) (*drift.Scan, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	rep, err := s.Report(ctx, id)
	if err != nil {
		return nil, err
	}
	seen, err := s.FirstSeen(ctx, id)
	if err != nil {
		return nil, err
	}
	sc := &drift.Scan{Report: rep, RunID: id, FirstSeen: make(map[drift.Key]drift.Seen, len(seen)),
		LastRead: drift.LastRead{Pairs: map[drift.Key]drift.Reading{}, Environments: map[string]drift.Reading{}, Tenants: map[string]*drift.Scan{}}}
	for k, v := range seen {
		sc.FirstSeen[drift.Key{EnvironmentID: k[0], RuleID: k[1]}] = drift.Seen{At: v.At, RunID: v.RunID}
	}
	return sc, nil
}

// FirstSeenOf is drift's first-seen times in the form a Record keeps them.
func FirstSeenOf(m map[drift.Key]drift.Seen) map[[2]string]Seen {
	out := make(map[[2]string]Seen, len(m))
	for k, v := range m {
		out[[2]string{k.EnvironmentID, k.RuleID}] = Seen{At: v.At, RunID: v.RunID}
	}
	return out
}

// LastReadOf is drift's LastRead in the form a Record keeps it, in a stable order. Entries whose scan is not
// a run of the history (files) are left out.
func LastReadOf(l drift.LastRead) []LastRead {
	var out []LastRead
	for name, sc := range l.Tenants {
		if sc != nil && sc.RunID > 0 {
			out = append(out, LastRead{Tenant: name, RunID: sc.RunID})
		}
	}
	for id, rd := range l.Environments {
		if rd.Scan != nil && rd.Scan.RunID > 0 {
			out = append(out, LastRead{Tenant: rd.Tenant, EnvironmentID: id, RunID: rd.Scan.RunID})
		}
	}
	for k, rd := range l.Pairs {
		if rd.Scan != nil && rd.Scan.RunID > 0 {
			out = append(out, LastRead{Tenant: rd.Tenant, EnvironmentID: k.EnvironmentID, RuleID: k.RuleID, RunID: rd.Scan.RunID})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		if a.EnvironmentID != b.EnvironmentID {
			return a.EnvironmentID < b.EnvironmentID
		}
		return a.RuleID < b.RuleID
	})
	return out
}
