package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
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

func newDemoCmd(g *globals) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Scan the bundled demo tenants, served by the built-in emulator",
		Long: `demo starts the emulator (Entra, BAP and Dataverse over loopback HTTPS, with its own CA) on the
bundled demo tenants, scans them exactly as 'audit scan' scans a real tenant, prints the table and writes
./` + defaultReportDir + `/report.json and report.html. It exits 0 when the demo ran; the exit code a real scan would have
given is printed at the end. --history keeps its runs: from the second run on, the reports show drift and trends.

The demo tenants (Contoso and Fabrikam) and their settings are built into the binary, so the demo runs from
any directory; --tenant and --config serve other fixtures and settings instead (see docs/emulator.md).`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), g, o) }),
	}
	cmd.Flags().StringSliceVar(&o.tenants, "tenant", nil, "tenant fixture files to serve, one emulator each (repeatable; default: the bundled demo tenants)")
	cmd.Flags().StringVarP(&o.configPath, "config", "c", "", "settings, policy data and waivers for the demo; tenants come from the fixtures (default: the bundled demo settings)")
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

// startEmulators serves each fixture file (the bundled demo tenants when there are none) on its own loopback
// port, and returns the emulators with globals whose HTTP client trusts their CAs (and nothing else) and whose
// environment holds their secrets.
func startEmulators(g *globals, paths []string, opts emulator.Options) (*emulators, error) {
	emu, err := demo.Start(paths, opts, g.now)
	if err != nil {
		if errors.Is(err, demo.ErrFixtureNotFound) {
			return nil, usageError("%v: pass the path of a tenant fixture file, or leave --tenant out for the bundled demo tenants", err)
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
	settings, err := demo.Settings(o.configPath)
	if err != nil {
		return withCode(exitUsage, err)
	}
	settings.Tenants = cfg.Tenants
	cfg = settings
	s, err := audit.Open(ctx, dg.deps(o.report.quiet), audit.Settings{Config: cfg, FailOn: o.report.failOn})
	if err != nil {
		return err
	}
	// The bundled settings are no file of the user's for SARIF results to point at.
	if o.configPath != "" {
		o.report.source = sarifSource(cfg)
	}
	ev, err := s.RunScan(ctx, audit.ScanOptions{History: audit.History{Path: o.history}, Trigger: "scan", ReportDir: o.report.output},
		func(ev *audit.Evaluation) error { return writeReports(dg, ev.Report, o.report) })
	if err != nil {
		return err
	}
	if !o.report.quiet {
		code := codeOf(ev.Exit())
		printf(g.stderr, "\nThese were the %s, served by the built-in emulator.\n", demo.Served(o.tenants, cfg.Tenants))
		printf(g.stderr, "A real 'audit scan' with these results would exit %d (%s).\n", code, exitMeaning(code))
	}
	return nil
}
