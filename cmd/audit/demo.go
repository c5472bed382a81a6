package main

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/demo"
	"github.com/work365/audit/internal/emulator"
)

// demoOptions are the flags of audit demo.
type demoOptions struct {
	tenants    []string
	configPath string
	history    string
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
given is printed at the end. --history keeps its runs: from the second run on, the reports show drift and trends.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), g, o) }),
	}
	cmd.Flags().StringSliceVar(&o.tenants, "tenant", defaultDemoTenants, "tenant fixtures to serve, one emulator each (repeatable)")
	cmd.Flags().StringVarP(&o.configPath, "config", "c", defaultDemoConfig, "settings, policy data and waivers for the demo (tenants come from the fixtures)")
	cmd.Flags().StringVar(&o.history, "history", "", "keep the demo's runs in this SQLite file, as 'audit scan --history' does: the reports of the second run on show drift and trends")
	addReportFlags(cmd, &o.report)
	// The demo shows what a report looks like, so it writes the HTML report too.
	cmd.Flags().Lookup("format").DefValue = "table,json,html"
	_ = cmd.Flags().Set("format", "table,json,html")
	return cmd
}

// emulators are running emulators, with globals that point the real code path at them.
type emulators struct {
	*demo.Emulators
	g *globals
}

// startEmulators serves each fixture on its own loopback port, and returns the emulators with globals whose
// HTTP client trusts their CAs (and nothing else) and whose environment holds their secrets.
func startEmulators(g *globals, paths []string, opts emulator.Options) (*emulators, error) {
	emu, err := demo.Start(paths, opts, g.now)
	if err != nil {
		if errors.Is(err, demo.ErrFixtureNotFound) {
			return nil, usageError("%v: run from the repository root or pass --tenant FILE", err)
		}
		return nil, withCode(exitUsage, err)
	}
	dg := *g
	dg.httpClient, dg.getenv = emu.HTTP, emu.Getenv(g.getenv)
	return &emulators{Emulators: emu, g: &dg}, nil
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
	cfg, dg := emu.Config, emu.g
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
	o.report.source = sarifSource(cfg)
	ev, err := s.RunScan(ctx, audit.ScanOptions{History: audit.History{Path: o.history}, Trigger: "scan", ReportDir: o.report.output},
		func(ev *audit.Evaluation) error { return writeReports(dg, ev.Report, o.report) })
	if err != nil {
		return err
	}
	if !o.report.quiet {
		code := codeOf(ev.Exit())
		printf(g.stderr, "\nThese were the demo tenants (%s), served by the built-in emulator.\n", strings.Join(o.tenants, ", "))
		printf(g.stderr, "A real 'audit scan' with these results would exit %d (%s).\n", code, exitMeaning(code))
	}
	return nil
}
