package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/internal/report"
)

// policiesOptions are the flags shared by the policies subcommands.
type policiesOptions struct {
	configPath  string
	policyDirs  []string
	coverage    bool
	minCoverage float64
	verbose     bool
}

func newPoliciesCmd(g *globals) *cobra.Command {
	var o policiesOptions
	cmd := &cobra.Command{
		Use:   "policies",
		Short: "List, explain and test the rules (embedded and from --policy-dir)",
	}
	cmd.PersistentFlags().StringSliceVar(&o.policyDirs, "policy-dir", nil, "directory of additional Rego policies (repeatable)")
	cmd.PersistentFlags().StringVarP(&o.configPath, "config", "c", "", "config file (for policy data overrides)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the rules: ID, severity, title and source",
		Args:  cobra.NoArgs,
		RunE:  runE(func(cmd *cobra.Command, _ []string) error { return runPoliciesList(cmd.Context(), g, o) }),
	}
	show := &cobra.Command{
		Use:   "show RULE-ID",
		Short: "Explain a rule: what it checks, the guide's step, and the remediation",
		Args:  cobra.ExactArgs(1),
		RunE:  runE(func(cmd *cobra.Command, args []string) error { return runPoliciesShow(cmd.Context(), g, o, args[0]) }),
	}
	test := &cobra.Command{
		Use:   "test",
		Short: "Run the Rego tests of the embedded and custom policies",
		Args:  cobra.NoArgs,
		RunE:  runE(func(cmd *cobra.Command, _ []string) error { return runPoliciesTest(cmd.Context(), g, o) }),
	}
	test.Flags().BoolVar(&o.coverage, "coverage", false, "print the coverage of the policy files")
	test.Flags().Float64Var(&o.minCoverage, "min-coverage", 0, "fail when coverage is below this percentage")
	test.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "print every test, not only failures")
	docs := &cobra.Command{
		Use:   "docs",
		Short: "Print the rule reference (docs/rules.md) generated from the policies' METADATA",
		Args:  cobra.NoArgs,
		RunE:  runE(func(cmd *cobra.Command, _ []string) error { return runPoliciesDocs(cmd.Context(), g, o) }),
	}
	cmd.AddCommand(list, show, test, docs)
	return cmd
}

func (o policiesOptions) engine(ctx context.Context, g *globals) (*policy.Engine, error) {
	var err error
	cfgPath := o.configPath
	if cfgPath == "" {
		return audit.LoadEngine(ctx, nil, o.policyDirs)
	}
	cfg, err := audit.LoadConfig(cfgPath, g.getenv)
	if err != nil {
		return nil, err
	}
	return audit.LoadEngine(ctx, cfg, o.policyDirs)
}

func runPoliciesList(ctx context.Context, g *globals, o policiesOptions) error {
	eng, err := o.engine(ctx, g)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSEVERITY\tTITLE\tSOURCE")
	for _, r := range eng.Rules() {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Title, r.Source)
	}
	return w.Flush()
}

func runPoliciesShow(ctx context.Context, g *globals, o policiesOptions, id string) error {
	eng, err := o.engine(ctx, g)
	if err != nil {
		return err
	}
	r, ok := eng.Rule(strings.ToUpper(id))
	if !ok {
		ids := []string{}
		for _, r := range eng.Rules() {
			ids = append(ids, r.ID)
		}
		return usageError("no rule %q: known rules are %s", id, strings.Join(ids, ", "))
	}
	fmt.Fprintf(g.stdout, "%s  %s\n\n", r.ID, r.Title)
	fmt.Fprintf(g.stdout, "Severity:     %s\n", r.Severity)
	if r.Guide != "" {
		fmt.Fprintf(g.stdout, "Guide:        %s\n", r.Guide)
	}
	fix := "manual"
	if r.Automatic {
		fix = "automatic (audit fix)"
		if r.OptIn != "" {
			fix += ", with --" + r.OptIn
		}
	}
	fmt.Fprintf(g.stdout, "Remediation:  %s\n", fix)
	fmt.Fprintf(g.stdout, "Source:       %s (%s)\n\n", r.Source, r.File)
	fmt.Fprintf(g.stdout, "%s\n", r.Description)
	if r.Remediation != "" {
		fmt.Fprintf(g.stdout, "\nWhat to do:\n%s\n", r.Remediation)
	}
	if len(r.Related) > 0 {
		fmt.Fprintln(g.stdout, "\nSee also:")
		for _, rr := range r.Related {
			fmt.Fprintf(g.stdout, "  %s  %s\n", rr.Ref, rr.Description)
		}
	}
	return nil
}

func runPoliciesTest(ctx context.Context, g *globals, o policiesOptions) error {
	rep, err := policy.Test(ctx, o.policyDirs)
	if err != nil {
		return withCode(exitUsage, err)
	}
	for _, t := range rep.Results {
		if t.Pass && !o.verbose {
			continue
		}
		status := "PASS"
		if !t.Pass {
			status = "FAIL"
		}
		fmt.Fprintf(g.stdout, "%s  %s.%s (%s)\n", status, t.Package, t.Name, t.File)
		if t.Error != "" {
			fmt.Fprintf(g.stdout, "      %s\n", t.Error)
		}
	}
	fmt.Fprintf(g.stdout, "%d tests, %d passed, %d failed\n", len(rep.Results), len(rep.Results)-rep.Failed(), rep.Failed())
	if o.coverage || o.minCoverage > 0 {
		files := make([]string, 0, len(rep.Files))
		for f := range rep.Files {
			files = append(files, f)
		}
		sort.Strings(files)
		if o.verbose {
			for _, f := range files {
				fmt.Fprintf(g.stdout, "  %6.2f%%  %s\n", rep.Files[f], f)
			}
		}
		fmt.Fprintf(g.stdout, "Rego coverage of the policy files: %.2f%%\n", rep.Coverage)
	}
	if rep.Failed() > 0 {
		return &exitErr{Code: exitError, Err: fmt.Errorf("%d policy tests failed", rep.Failed())}
	}
	if len(rep.Results) == 0 {
		return &exitErr{Code: exitError, Err: fmt.Errorf("no policy tests found")}
	}
	if o.minCoverage > 0 && rep.Coverage < o.minCoverage {
		return &exitErr{Code: exitError, Err: fmt.Errorf("Rego coverage %.2f%% is below the required %.2f%%", rep.Coverage, o.minCoverage)}
	}
	return nil
}

// runPoliciesDocs writes the rule reference in Markdown. docs/rules.md is this output for the embedded
// policies, kept in sync by a test.
func runPoliciesDocs(ctx context.Context, g *globals, o policiesOptions) error {
	eng, err := o.engine(ctx, g)
	if err != nil {
		return err
	}
	return report.RulesReference(g.stdout, eng.Rules())
}
