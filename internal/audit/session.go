package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/auth"
	"github.com/work365/audit/internal/collect"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/fix"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/snapshot"
	"github.com/work365/audit/internal/termtext"
)

// Settings say what a session covers.
type Settings struct {
	// ConfigPath is the config file; empty reads the AZURE_* variables. Config, when set, is used instead
	// (a config prepared by the caller: the demo's, or one cut to a shard).
	ConfigPath string
	Config     *config.Config
	// PolicyDirs are users' policy directories, added to the embedded policies.
	PolicyDirs []string
	// Envs keeps only environments whose name or ID matches one of these globs (--env).
	Envs []string
	// Concurrency overrides collect.concurrency when positive.
	Concurrency int
	// FailOn is the severity threshold of the reports' summary and exit code.
	FailOn string
}

// Session is one configured run against the tenants: the config, the compiled policies, and a target per
// tenant with its token source, shared by collection and fixes so that each audience gets one token.
type Session struct {
	deps     Deps
	settings Settings
	cfg      *config.Config
	policy   policy.Settings // read from the policy data before the rules compile
	targets  []collect.Target
	opts     collect.Options

	// The rules compile while the tenants are first read: engReady closes when eng (or engErr) is set.
	engReady chan struct{}
	eng      *policy.Engine
	engErr   error
}

// Open reads the config (or the AZURE_* variables), compiles the policies with its policy data and the
// given directories, and prepares the targets: the common start of every command that reaches tenants.
func Open(ctx context.Context, deps Deps, s Settings) (*Session, error) {
	if deps.Getenv == nil {
		deps.Getenv = os.Getenv
	}
	cfg := s.Config
	if cfg == nil {
		var err error
		if cfg, err = LoadConfig(s.ConfigPath, deps.Getenv); err != nil {
			return nil, err
		}
	}
	popts := policy.Options{Dirs: s.PolicyDirs, Data: cfg.PolicyData}
	ps, err := policy.ReadSettings(popts)
	if err != nil {
		return nil, WithCode(CodeUsage, fmt.Errorf("load policies: %w", err))
	}
	sess, err := newSession(deps, s, cfg, ps)
	if err != nil {
		return nil, err
	}
	// Compiling the rules takes a moment that reading the tenants need not wait for: the environment lists and
	// the first environments are read meanwhile, and evaluation waits for the engine.
	go func() {
		sess.eng, sess.engErr = LoadEngine(context.WithoutCancel(ctx), cfg, s.PolicyDirs)
		close(sess.engReady)
	}()
	return sess, nil
}

// OpenWith prepares a session with an engine already compiled (the benchmark measures the two apart).
func OpenWith(deps Deps, s Settings, cfg *config.Config, eng *policy.Engine) (*Session, error) {
	if deps.Getenv == nil {
		deps.Getenv = os.Getenv
	}
	sess, err := newSession(deps, s, cfg, eng.Settings())
	if err != nil {
		return nil, err
	}
	sess.eng = eng
	close(sess.engReady)
	return sess, nil
}

func newSession(deps Deps, s Settings, cfg *config.Config, ps policy.Settings) (*Session, error) {
	if s.FailOn == "" {
		s.FailOn = "high"
	}
	sess := &Session{deps: deps, settings: s, cfg: cfg, policy: ps, engReady: make(chan struct{})}
	sess.opts = sess.collectOptions()
	if s.Concurrency > 0 {
		sess.opts.Concurrency = s.Concurrency
	}
	ts, err := sess.buildTargets()
	if err != nil {
		return nil, err
	}
	sess.targets = ts
	return sess, nil
}

// LoadConfig reads a config file, or builds the zero-config tenant from the AZURE_* variables when path is
// empty. Its problems are usage errors.
func LoadConfig(path string, getenv func(string) string) (*config.Config, error) {
	var (
		cfg *config.Config
		err error
	)
	if path != "" {
		cfg, err = config.Load(path)
	} else {
		cfg, err = config.FromEnvironment(getenv)
	}
	if err != nil {
		return nil, WithCode(CodeUsage, err)
	}
	return cfg, nil
}

// LoadEngine compiles the embedded policies, the users' directories and the config's policy data (cfg may
// be nil). A problem of the users' policies or data is a usage error.
func LoadEngine(ctx context.Context, cfg *config.Config, dirs []string) (*policy.Engine, error) {
	opts := policy.Options{Dirs: dirs}
	if cfg != nil {
		opts.Data = cfg.PolicyData
	}
	eng, err := policy.Load(ctx, opts)
	if err != nil {
		var le *policy.LoadError
		if errors.As(err, &le) || len(dirs) > 0 {
			return nil, WithCode(CodeUsage, fmt.Errorf("load policies: %w", err))
		}
		return nil, fmt.Errorf("load policies: %w", err)
	}
	return eng, nil
}

// Config is the session's configuration.
func (s *Session) Config() *config.Config { return s.cfg }

// Engine waits for the session's policies to compile and returns them, or why they do not compile.
func (s *Session) Engine() (*policy.Engine, error) {
	<-s.engReady
	return s.eng, s.engErr
}

// engine is the compiled policies of a session that has evaluated something already (so they compiled).
func (s *Session) engine() *policy.Engine {
	<-s.engReady
	return s.eng
}

// Concurrency is the bound of requests in flight the session collects with.
func (s *Session) Concurrency() int { return s.opts.Concurrency }

// Targets are the session's tenants, with their clients and token sources.
func (s *Session) Targets() []collect.Target { return s.targets }

// collectOptions derives what to collect from the config and the effective policy data, so an override of
// App IDs or role names changes both what is read and what is judged.
func (s *Session) collectOptions() collect.Options {
	cfg, ps := s.cfg, s.policy
	return collect.Options{
		Concurrency:           cfg.Collect.Concurrency,
		PerEnvironment:        cfg.Collect.PerEnvironment,
		PageSize:              cfg.Collect.PageSize,
		EnvironmentTimeout:    time.Duration(cfg.Collect.Timeout),
		SolutionName:          cfg.Work365.Solution,
		SolutionFriendlyName:  cfg.Work365.SolutionFriendlyName,
		Publisher:             cfg.Work365.Publisher,
		TablePrefix:           cfg.Work365.TablePrefix,
		SettingsTable:         cfg.Work365.SettingsTable,
		SettingsEntitySet:     cfg.Work365.SettingsEntitySet,
		ServiceUserLookup:     cfg.Work365.ServiceUserLookup,
		ServiceUserNavigation: cfg.Work365.ServiceUserNavigation,
		AppIDs:                ps.AppIDs,
		RoleNames:             ps.Roles.Names(),
		LookbackDays:          ps.LookbackDays,
		RecentJobs:            cfg.Collect.RecentJobs,
		JobNamePrefixes:       cfg.Collect.JobNamePrefixes,
		Now:                   s.deps.now,
		ToolVersion:           s.deps.ToolVersion,
	}
}

// buildTargets makes one collection target per configured tenant, with its token source.
func (s *Session) buildTargets() ([]collect.Target, error) {
	cfg, deps := s.cfg, s.deps
	hc := deps.Client(time.Duration(cfg.Collect.RequestTimeout))
	var out []collect.Target
	for _, t := range cfg.Tenants {
		ep, err := t.Endpoints()
		if err != nil {
			return nil, WithCode(CodeUsage, err)
		}
		cred, err := cfg.Credential(t, deps.Getenv)
		if err != nil {
			return nil, WithCode(CodeUsage, err)
		}
		var prompt func(string)
		if cred.DeviceCode {
			if !deps.Interactive {
				return nil, Usagef("tenant %q: device_code sign-in needs an administrator at a terminal (standard input and standard error), to show the code and wait for the sign-in; for unattended runs use a client secret, a certificate, a federated token file or a managed identity", t.Name)
			}
			// The line starts by erasing a progress status line that another tenant's collection may have drawn.
			name, w := t.Name, deps.stderr()
			prompt = func(msg string) { termtext.Fprintf(w, "\r\033[Kaudit: sign-in for tenant %s: %s\n", name, msg) }
		}
		src, err := auth.New(auth.Config{
			TenantID: t.TenantID, ClientID: t.ClientID, AuthorityHost: ep.AuthorityHost,
			Secret: cred.Secret, CertificatePath: cred.CertificatePath, CertificatePassword: cred.CertificatePassword,
			FederatedTokenFile: cred.FederatedTokenFile,
			ManagedIdentity:    cred.ManagedIdentity, ManagedIdentityClientID: cred.ManagedIdentityClientID,
			DeviceCode: cred.DeviceCode, DeviceCodePrompt: prompt,
			HTTPClient: hc, Now: deps.Now,
		})
		if err != nil {
			return nil, WithCode(CodeUsage, fmt.Errorf("tenant %q: %w", t.Name, err))
		}
		filter, envs := t.Environments, s.settings.Envs
		out = append(out, collect.Target{
			Name: t.Name, TenantID: t.TenantID, Cloud: ep.Cloud, BAPURL: ep.BAPURL, BAPScope: ep.BAPScope,
			HTTP: hc, Tokens: src, Client: &api.Client{HTTP: hc, Tokens: src, MaxAttempts: cfg.Collect.MaxAttempts,
				BaseBackoff: time.Duration(cfg.Collect.RetryDelay), MaxWait: time.Duration(cfg.Collect.MaxRetryWait),
				MaxRetryAfter: time.Duration(cfg.Collect.MaxRetryAfter), Observer: deps.Observer},
			Include: func(name, id string) bool {
				if !filter.Match(name, id) {
					return false
				}
				if len(envs) == 0 {
					return true
				}
				for _, gl := range envs {
					if config.Glob(gl, name) || config.Glob(gl, id) {
						return true
					}
				}
				return false
			},
		})
	}
	return out, nil
}

// Collect reads every environment in scope.
func (s *Session) Collect(ctx context.Context) (*snapshot.Snapshot, error) {
	return s.collect(ctx, nil)
}

// collect reads every environment in scope with the session's progress; a sink, when given, is handed each
// environment as it is read and the environments' data is let go after it.
func (s *Session) collect(ctx context.Context, sink collect.Sink) (*snapshot.Snapshot, error) {
	opts := s.opts
	opts.Sink, opts.DropData = sink, sink != nil
	if p := s.deps.Progress; p != nil {
		opts.Progress = p.Event
		defer p.Finish()
	}
	snap, err := collect.New(opts).Collect(ctx, s.targets)
	if err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	return snap, nil
}

// Recollect reads the given environments (tenant name → IDs) again and returns a copy of snap with them
// replaced.
func (s *Session) Recollect(ctx context.Context, snap *snapshot.Snapshot, ids map[string][]string) (*snapshot.Snapshot, error) {
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

// Scan collects every environment in scope and evaluates it.
func (s *Session) Scan(ctx context.Context) (*Evaluation, error) {
	snap, err := s.Collect(ctx)
	if err != nil {
		return nil, err
	}
	return s.Evaluate(ctx, snap)
}

// Evaluate runs the session's policies on a snapshot with the config's waivers and builds the report model.
func (s *Session) Evaluate(ctx context.Context, snap *snapshot.Snapshot) (*Evaluation, error) {
	eng, err := s.Engine()
	if err != nil {
		return nil, err
	}
	return Evaluate(ctx, s.deps, eng, s.cfg, snap, s.settings.FailOn, Sources(s.settings.PolicyDirs))
}

// Clients are the API clients by tenant name, for fixes.
func (s *Session) Clients() map[string]*api.Client {
	out := map[string]*api.Client{}
	for _, t := range s.targets {
		out[t.Name] = t.Client
	}
	return out
}

// LockAll takes the lock of every tenant of the session, before anything is read for a plan that may be
// applied; the returned function releases them.
func (s *Session) LockAll() (func(), error) {
	names := make([]string, 0, len(s.targets))
	for _, t := range s.targets {
		names = append(names, t.Name)
	}
	return s.Lock(names...)
}

// Lock takes the locks of the named tenants, in a fixed order so that two runs cannot each hold one the
// other waits for; it takes none or all.
func (s *Session) Lock(tenants ...string) (func(), error) {
	var locks []*fix.Lock
	release := func() {
		for _, l := range locks {
			l.Release()
		}
	}
	sorted := append([]string(nil), tenants...)
	sort.Strings(sorted)
	for i, n := range sorted {
		if i > 0 && n == sorted[i-1] {
			continue
		}
		id, endpoint := n, ""
		for _, t := range s.targets {
			if t.Name == n {
				id, endpoint = t.TenantID, t.BAPURL
			}
		}
		l, err := fix.AcquireLock(id, endpoint, s.deps.now())
		if err != nil {
			release()
			return nil, err
		}
		locks = append(locks, l)
	}
	return release, nil
}

// note writes an informative line to standard error, unless quiet.
func (s *Session) note(format string, args ...any) {
	if !s.deps.Quiet {
		termtext.Fprintf(s.deps.stderr(), format+"\n", args...)
	}
}

// Collector is a collector with the session's options, for probing (audit doctor) with a scan's requests.
func (s *Session) Collector() *collect.Collector { return collect.New(s.opts) }
