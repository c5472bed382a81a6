package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/emulator"
)

// demoOptions are the flags of audit demo.
type demoOptions struct {
	tenants    []string
	configPath string
	report     reportOptions
}

const defaultDemoTenant = "testdata/tenants/demo.yaml"

var defaultDemoTenants = []string{defaultDemoTenant, "testdata/tenants/demo-fabrikam.yaml"}

const defaultDemoConfig = "testdata/tenants/demo-config.yaml"

func newDemoCmd(g *globals) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Scan the bundled demo tenants, served by the built-in emulator",
		Long: `demo starts the emulator (Entra, BAP and Dataverse over loopback HTTPS, with its own CA) on the
bundled demo tenants, scans them exactly as 'audit scan' scans a real tenant, prints the table and writes
./` + defaultReportDir + `/report.json and report.html. It exits 0 when the demo ran; the exit code a real scan would have
given is printed at the end.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), g, o) }),
	}
	cmd.Flags().StringSliceVar(&o.tenants, "tenant", defaultDemoTenants, "tenant fixtures to serve, one emulator each (repeatable)")
	cmd.Flags().StringVarP(&o.configPath, "config", "c", defaultDemoConfig, "settings, policy data and waivers for the demo (tenants come from the fixtures)")
	addReportFlags(cmd, &o.report)
	// The demo shows what a report looks like, so it writes the HTML report too.
	cmd.Flags().Lookup("format").DefValue = "table,json,html"
	_ = cmd.Flags().Set("format", "table,json,html")
	return cmd
}

// demoSecretVar carries a fixture's client secret to the scan through the normal credential path.
const demoSecretVar = "AUDIT_DEMO_CLIENT_SECRET_"

// emulators are running emulators and a config and globals that point the real scan path at them.
type emulators struct {
	servers []*emulator.Server
	cfg     *config.Config
	g       *globals
}

func (e *emulators) Close() {
	for _, s := range e.servers {
		s.Close()
	}
}

// startEmulators serves each fixture on its own loopback port, and returns a config with one tenant per
// fixture and globals whose HTTP client trusts the emulators' CAs (and nothing else).
func startEmulators(g *globals, paths []string, opts emulator.Options) (*emulators, error) {
	out := &emulators{cfg: &config.Config{}}
	pool := x509.NewCertPool()
	secrets := map[string]string{}
	for i, path := range paths {
		fx, err := emulator.LoadFixture(path)
		if err != nil {
			out.Close()
			if errors.Is(err, fs.ErrNotExist) {
				return nil, usageError("tenant fixture %s not found: run from the repository root or pass --tenant FILE", path)
			}
			return nil, withCode(exitUsage, err)
		}
		if len(fx.Clients) == 0 || fx.Clients[0].Secret == "" {
			out.Close()
			return nil, usageError("%s: the first client needs a secret for the demo to authenticate with", path)
		}
		o := opts
		if o.Now == nil {
			o.Now = g.now
		}
		srv, err := emulator.New(fx, o)
		if err == nil {
			err = srv.Start()
		}
		if err != nil {
			out.Close()
			return nil, fmt.Errorf("start emulator for %s: %w", path, err)
		}
		out.servers = append(out.servers, srv)
		pool.AppendCertsFromPEM(srv.CACertPEM())
		secretVar := fmt.Sprintf("%s%d", demoSecretVar, i)
		secrets[secretVar] = fx.Clients[0].Secret
		out.cfg.Tenants = append(out.cfg.Tenants, config.Tenant{
			Name: fx.Tenant.Name, TenantID: srv.TenantID(), ClientID: fx.Clients[0].ClientID,
			ClientSecretEnv: secretVar, Authority: srv.URL(), BAP: srv.BAPURL(), BAPScope: srv.BAPScope(),
		})
	}
	out.cfg.ApplyDefaults()
	dg := *g
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 64}
	dg.httpClient = &http.Client{Transport: tr, Timeout: time.Duration(out.cfg.Collect.RequestTimeout)}
	dg.getenv = func(k string) string {
		if v, ok := secrets[k]; ok {
			return v
		}
		return g.getenv(k)
	}
	out.g = &dg
	return out, nil
}

func runDemo(ctx context.Context, g *globals, o demoOptions) error {
	if err := o.report.validate(); err != nil {
		return err
	}
	emu, err := startEmulators(g, o.tenants, emulator.Options{})
	if err != nil {
		return err
	}
	defer emu.Close()
	cfg, dg := emu.cfg, emu.g
	if o.configPath != "" {
		settings, err := config.LoadSettings(o.configPath)
		if err != nil {
			return withCode(exitUsage, err)
		}
		settings.Tenants = cfg.Tenants
		cfg = settings
	}
	s, err := audit.Open(ctx, dg.deps(o.report.quiet), audit.Settings{Config: cfg, FailOn: o.report.failOn})
	if err != nil {
		return err
	}
	ev, err := s.Scan(ctx)
	if err != nil {
		return err
	}
	o.report.source = sarifSource(cfg)
	if err := writeReports(dg, ev.Report, o.report); err != nil {
		return err
	}
	if !o.report.quiet {
		code := codeOf(ev.Exit())
		printf(g.stderr, "\nThese were the demo tenants (%s), served by the built-in emulator.\n", strings.Join(o.tenants, ", "))
		printf(g.stderr, "A real 'audit scan' with these results would exit %d (%s).\n", code, exitMeaning(code))
	}
	return nil
}
