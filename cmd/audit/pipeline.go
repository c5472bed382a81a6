package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/auth"
	"github.com/work365/audit/internal/collect"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
	"github.com/work365/audit/internal/snapshot"
)

// defaultReportDir is where reports, snapshots and journals go when --output is not given.
const defaultReportDir = "audit-report"

// loadConfig reads --config, or builds the zero-config tenant from AZURE_* variables.
func loadConfig(g *globals, path string) (*config.Config, error) {
	var (
		cfg *config.Config
		err error
	)
	if path != "" {
		cfg, err = config.Load(path)
	} else {
		cfg, err = config.FromEnvironment(g.getenv)
	}
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return cfg, nil
}

// loadEngine compiles the embedded policies, the users' directories and the config's policy data.
func loadEngine(ctx context.Context, cfg *config.Config, dirs []string) (*policy.Engine, error) {
	opts := policy.Options{Dirs: dirs}
	if cfg != nil {
		opts.Data = cfg.PolicyData
	}
	eng, err := policy.Load(ctx, opts)
	if err != nil {
		var le *policy.LoadError
		if errors.As(err, &le) || len(dirs) > 0 {
			return nil, withCode(exitUsage, fmt.Errorf("load policies: %w", err))
		}
		return nil, fmt.Errorf("load policies: %w", err)
	}
	return eng, nil
}

// idleConnTimeout closes a connection that has been idle that long. Every Dataverse organization has its own
// host, so a scan of a thousand environments opens a thousand connections; an organization's requests come in
// quick succession while it is read and stop when it is done, and keeping its connection for the usual 90
// seconds would hold the memory of every finished organization's connection until the end of the scan.
const idleConnTimeout = 3 * time.Second

// httpClient is the client for every API call: the injected one in tests, otherwise one that verifies TLS
// against the system roots (SSL_CERT_FILE and SSL_CERT_DIR add private CAs) and bounds each request.
func (g *globals) client(timeout time.Duration) *http.Client {
	if g.httpClient != nil {
		c := *g.httpClient
		c.Timeout = timeout
		if tr, ok := c.Transport.(*http.Transport); ok {
			// The injected client (tests, the demo, the benchmark) trusts its own CA but keeps connections as
			// the product does.
			tr = tr.Clone()
			tr.IdleConnTimeout = idleConnTimeout
			c.Transport = tr
		}
		if g.debug {
			c.Transport = &debugTransport{next: transportOf(c.Transport), w: g.stderr}
		}
		return &c
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       idleConnTimeout,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: timeout,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if g.debug {
		return &http.Client{Transport: &debugTransport{next: tr, w: g.stderr}, Timeout: timeout}
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// collectOptions derives what to collect from the config and the effective policy data, so an override of
// App IDs or role names changes both what is read and what is judged.
func collectOptions(g *globals, cfg *config.Config, eng *policy.Engine) (collect.Options, error) {
	ps := eng.Settings()
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
		Now:                   g.now,
		ToolVersion:           toolVersion(),
	}, nil
}

// targets builds one collection target per configured tenant, with its token source.
func targets(g *globals, cfg *config.Config, envGlobs []string) ([]collect.Target, error) {
	hc := g.client(time.Duration(cfg.Collect.RequestTimeout))
	var out []collect.Target
	for _, t := range cfg.Tenants {
		ep, err := t.Endpoints()
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		cred, err := cfg.Credential(t, g.getenv)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		var prompt func(string)
		if cred.DeviceCode {
			if !g.stdinTTY || !g.stderrTTY {
				return nil, usageError("tenant %q: device_code sign-in needs an administrator at a terminal (standard input and standard error), to show the code and wait for the sign-in; for unattended runs use a client secret, a certificate, a federated token file or a managed identity", t.Name)
			}
			// The line starts by erasing a progress status line that another tenant's collection may have drawn.
			name := t.Name
			prompt = func(msg string) { printf(g.stderr, "\r\033[Kaudit: sign-in for tenant %s: %s\n", name, msg) }
		}
		src, err := auth.New(auth.Config{
			TenantID: t.TenantID, ClientID: t.ClientID, AuthorityHost: ep.AuthorityHost,
			Secret: cred.Secret, CertificatePath: cred.CertificatePath, CertificatePassword: cred.CertificatePassword,
			FederatedTokenFile: cred.FederatedTokenFile,
			ManagedIdentity:    cred.ManagedIdentity, ManagedIdentityClientID: cred.ManagedIdentityClientID,
			DeviceCode: cred.DeviceCode, DeviceCodePrompt: prompt,
			HTTPClient: hc, Now: g.now,
		})
		if err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("tenant %q: %w", t.Name, err))
		}
		filter := t.Environments
		out = append(out, collect.Target{
			Name: t.Name, TenantID: t.TenantID, Cloud: ep.Cloud, BAPURL: ep.BAPURL, BAPScope: ep.BAPScope,
			HTTP: hc, Tokens: src, Client: &api.Client{HTTP: hc, Tokens: src, MaxAttempts: cfg.Collect.MaxAttempts,
				BaseBackoff: time.Duration(cfg.Collect.RetryDelay), MaxWait: time.Duration(cfg.Collect.MaxRetryWait),
				MaxRetryAfter: time.Duration(cfg.Collect.MaxRetryAfter)},
			Include: func(name, id string) bool {
				if !filter.Match(name, id) {
					return false
				}
				if len(envGlobs) == 0 {
					return true
				}
				for _, gl := range envGlobs {
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

// reportOptions say what to write after an evaluation.
type reportOptions struct {
	formats string
	output  string // directory, "-" for stdout, "" for the default directory
	failOn  string
	quiet   bool
	source  *report.SourceFile // where SARIF results are located: the config file, when there is one
}

func (o reportOptions) validate() error {
	if policy.SeverityRank(o.failOn) == 0 {
		return usageError("--fail-on %q: use one of %s", o.failOn, strings.Join(policy.Severities, ", "))
	}
	fs, err := report.ParseList(o.formats)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if o.output == "-" && len(fs) != 1 {
		return usageError("--output - writes one format to standard output, but %d were asked (%s)", len(fs), o.formats)
	}
	return nil
}

// evaluation is a snapshot with its results and the report built from them.
type evaluation struct {
	snap    *snapshot.Snapshot
	results []policy.Result
	report  *report.Report
}

// evaluate runs the policies on a snapshot, applies the config's waivers and builds the report model.
func evaluate(ctx context.Context, g *globals, eng *policy.Engine, cfg *config.Config, snap *snapshot.Snapshot, failOn string, sources []string) (*evaluation, error) {
	ws := policy.NewWaivers(waiversOf(cfg), g.now())
	results, err := eng.Evaluate(ctx, snap, ws.Apply)
	if err != nil {
		return nil, err
	}
	warnings := ws.Warnings()
	if cfg != nil {
		for _, w := range cfg.Waivers {
			if !strings.ContainsAny(w.Rule, "*?[") {
				if _, ok := eng.Rule(strings.ToUpper(w.Rule)); !ok {
					warnings = append(warnings, fmt.Sprintf("waiver at %s:%d names rule %s, which is not in the catalog (see audit policies list)", cfg.Path, w.Line, w.Rule))
				}
			}
		}
	}
	rep := report.Build(report.Input{
		Snapshot: snap, Results: results, Rules: eng.Rules(), AppIDs: eng.Settings().AppIDs, Regions: eng.Settings().Regions, Digest: eng.Digest(),
		Sources: sources, ToolVersion: toolVersion(), GeneratedAt: g.now(), FailOn: failOn, Warnings: warnings,
	})
	return &evaluation{snap: snap, results: results, report: rep}, nil
}

// waiversOf converts the config's waivers for the policy engine.
func waiversOf(cfg *config.Config) []policy.Waiver {
	if cfg == nil {
		return nil
	}
	out := make([]policy.Waiver, 0, len(cfg.Waivers))
	for _, w := range cfg.Waivers {
		where := ""
		if cfg.Path != "" {
			where = fmt.Sprintf("%s:%d", cfg.Path, w.Line)
		}
		out = append(out, policy.Waiver{Rule: w.Rule, Environment: w.Environment, Tenant: w.Tenant, Object: w.Object,
			Reason: w.Reason, Owner: w.Owner, Ticket: w.Ticket, Expires: w.Expires.Time, Where: where})
	}
	return out
}

// writeReports writes the asked formats: the table to standard output, the others as report.<ext> files in
// the output directory (or one format to standard output with --output -).
func writeReports(g *globals, ev *evaluation, o reportOptions) error {
	fs, err := report.ParseList(o.formats)
	if err != nil {
		return withCode(exitUsage, err)
	}
	ropts := report.Options{Color: g.stdoutTTY && g.getenv("NO_COLOR") == "", Width: g.termWidth, Source: o.source}
	if o.output == "-" {
		return fs[0].New(ropts).Write(g.stdout, ev.report)
	}
	dir := o.output
	if dir == "" {
		dir = defaultReportDir
	}
	var written []string
	for _, f := range fs {
		if f.Name == "table" {
			if o.quiet {
				continue
			}
			if err := f.New(ropts).Write(g.stdout, ev.report); err != nil {
				return err
			}
			continue
		}
		var buf bytes.Buffer
		if err := f.New(report.Options{Source: o.source}).Write(&buf, ev.report); err != nil {
			return fmt.Errorf("render %s report: %w", f.Name, err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create output directory: %w", err)
		}
		p := filepath.Join(dir, "report."+f.Ext)
		if err := snapshot.WriteFilePrivate(p, buf.Bytes()); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		written = append(written, p)
	}
	if len(written) > 0 && !o.quiet {
		sort.Strings(written)
		printf(g.stderr, "wrote %s\n", strings.Join(written, ", "))
	}
	return nil
}

// exitFor turns a report into the exit code contract: 4 when something could not be audited, else 3 when
// something fails at or above the threshold, else 0.
func exitFor(rep *report.Report) error {
	switch {
	case rep.Summary.Errors > 0:
		return &exitErr{code: exitUnaudited}
	case rep.Summary.FailingAtOrAbove > 0:
		return &exitErr{code: exitFailing}
	}
	return nil
}
