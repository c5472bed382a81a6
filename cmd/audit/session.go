package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/collect"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/snapshot"
)

// session is one configured run against the tenants: its targets (with their token sources, shared by
// collection and fixes, so each audience gets one token) and its compiled policies.
type session struct {
	g       *globals
	cfg     *config.Config
	eng     *policy.Engine
	targets []collect.Target
	opts    collect.Options
}

// openSession reads the config (or the AZURE_* variables), compiles the policies with its policy data and
// the given directories, and prepares the targets: the common start of every command that reaches tenants.
func openSession(ctx context.Context, g *globals, configPath string, policyDirs, envGlobs []string, concurrency int) (*session, error) {
	cfg, err := loadConfig(g, configPath)
	if err != nil {
		return nil, err
	}
	eng, err := loadEngine(ctx, cfg, policyDirs)
	if err != nil {
		return nil, err
	}
	return newSession(g, cfg, eng, envGlobs, concurrency)
}

func newSession(g *globals, cfg *config.Config, eng *policy.Engine, envGlobs []string, concurrency int) (*session, error) {
	opts, err := collectOptions(g, cfg, eng)
	if err != nil {
		return nil, err
	}
	if concurrency > 0 {
		opts.Concurrency = concurrency
	}
	ts, err := targets(g, cfg, envGlobs)
	if err != nil {
		return nil, err
	}
	return &session{g: g, cfg: cfg, eng: eng, targets: ts, opts: opts}, nil
}

// collect reads every environment in scope.
func (s *session) collect(ctx context.Context, quiet bool) (*snapshot.Snapshot, error) {
	prog := newProgress(s.g, quiet)
	opts := s.opts
	opts.Progress = prog.event
	snap, err := collect.New(opts).Collect(ctx, s.targets)
	prog.finish()
	if err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	return snap, nil
}

// recollect reads the given environments again and returns a copy of snap with them replaced.
func (s *session) recollect(ctx context.Context, snap *snapshot.Snapshot, ids map[string][]string) (*snapshot.Snapshot, error) {
	var ts []collect.Target
	for _, t := range s.targets {
		want := map[string]bool{}
		for _, id := range ids[t.Name] {
			want[strings.ToLower(id)] = true
		}
		if len(want) == 0 {
			continue
		}
		t.Include = func(_, id string) bool { return want[strings.ToLower(id)] }
		ts = append(ts, t)
	}
	fresh, err := collect.New(s.opts).Collect(ctx, ts)
	if err != nil {
		return nil, fmt.Errorf("collect again: %w", err)
	}
	byID := map[string]snapshot.Environment{}
	for _, t := range fresh.Tenants {
		for _, e := range t.Environments {
			byID[e.ID] = e
		}
	}
	out := *snap
	out.Tenants = make([]snapshot.Tenant, len(snap.Tenants))
	for ti, t := range snap.Tenants {
		t.Environments = append([]snapshot.Environment(nil), t.Environments...)
		for ei, e := range t.Environments {
			if f, ok := byID[e.ID]; ok {
				t.Environments[ei] = f
			}
		}
		out.Tenants[ti] = t
	}
	out.CollectedAt = fresh.CollectedAt
	return &out, nil
}

// clients are the API clients by tenant name, for fixes.
func (s *session) clients() map[string]*api.Client {
	out := map[string]*api.Client{}
	for _, t := range s.targets {
		out[t.Name] = t.Client
	}
	return out
}

// tenantEndpoint returns the Entra tenant ID and BAP endpoint of a configured tenant name.
func (s *session) tenantEndpoint(name string) (string, string) {
	for _, t := range s.targets {
		if t.Name == name {
			return t.TenantID, t.BAPURL
		}
	}
	return name, ""
}
