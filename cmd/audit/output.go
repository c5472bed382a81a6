package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// defaultReportDir is where reports, snapshots and journals go when --output is not given.
const defaultReportDir = audit.DefaultReportDir

// reportOptions say what to write after an evaluation.
type reportOptions struct {
	formats string
	output  string // directory, "-" for stdout, "" for the default directory
	failOn  string
	quiet   bool
	source  *report.SourceFile // where SARIF results are located: the config file, when there is one
}

func addReportFlags(cmd *cobra.Command, o *reportOptions) {
	cmd.Flags().StringVar(&o.formats, "format", "table,json", "comma-separated report formats: "+strings.Join(report.Names(), ", "))
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "directory for the report files, report.<ext> and inventory.csv (default ./"+defaultReportDir+"); - writes a single format to standard output")
	cmd.Flags().StringVar(&o.failOn, "fail-on", "high", "lowest severity that makes the exit code 3: critical, high, medium or low")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "no progress, no table, no notes: only files and the exit code")
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

// writeReports writes the asked formats: the table to standard output, the others as their files in
// the output directory (or one format to standard output with --output -).
func writeReports(g *globals, rep *report.Report, o reportOptions) error {
	fs, err := report.ParseList(o.formats)
	if err != nil {
		return withCode(exitUsage, err)
	}
	ropts := report.Options{Color: g.stdoutTTY && g.getenv("NO_COLOR") == "", Width: g.termWidth, Source: o.source}
	if o.output == "-" {
		return fs[0].New(ropts).Write(g.stdout, rep)
	}
	for _, f := range fs {
		if f.Name == report.Terminal && !o.quiet {
			if err := f.New(ropts).Write(g.stdout, rep); err != nil {
				return err
			}
		}
	}
	dir := o.output
	if dir == "" {
		dir = defaultReportDir
	}
	written, err := report.WriteFiles(dir, fs, rep, report.Options{Source: o.source})
	if len(written) > 0 && !o.quiet {
		printf(g.stderr, "wrote %s\n", strings.Join(written, ", "))
	}
	return err
}

// sarifSource locates SARIF results in the config file, at the line of each tenant's entry.
func sarifSource(cfg *config.Config) *report.SourceFile {
	if cfg == nil {
		return nil
	}
	lines := map[string]int{}
	for _, t := range cfg.Tenants {
		lines[t.Name] = t.Line
	}
	return report.SourceFor(cfg.Path, lines)
}

func addCollectFlags(cmd *cobra.Command, configPath *string, envs *[]string, concurrency *int) {
	cmd.Flags().StringVarP(configPath, "config", "c", "", "config file (tenants, credentials, settings); default: the AZURE_* variables")
	cmd.Flags().StringSliceVar(envs, "env", nil, "only environments whose name or ID matches this glob (repeatable)")
	cmd.Flags().IntVar(concurrency, "concurrency", 0, fmt.Sprintf("requests in flight across all environments (default: collect.concurrency, %d)", config.DefaultConcurrency))
}
