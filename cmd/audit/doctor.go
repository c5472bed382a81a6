package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/doctor"
)

// doctorOptions are the flags of audit doctor.
type doctorOptions struct {
	configPath string
	envs       []string
}

func newDoctorCmd(g *globals) *cobra.Command {
	var o doctorOptions
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check credentials, registration and privileges, and say what to fix; changes nothing",
		Long: `doctor checks, for each configured tenant, that the auditor can get tokens, that its app is registered as
a Power Platform admin management application (so it can list environments), and for each environment
with Dataverse that its application user exists there and holds the privileges a scan reads with and
the ones audit fix writes with. It shows what a scan discovers of Work 365 in each environment: the
solution and how it was found (unique name, friendly name or publisher) with its version, the settings
table's entity set, the service-user lookup's read and write (navigation) names, and whether the
clear-cache action exists. It prints what to fix and changes nothing.

Exit codes: 0 everything is in place; 3 scans work but audit fix would lack privileges somewhere;
4 something would keep a tenant or environment from being audited; 2 usage or config error.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runDoctor(cmd.Context(), g, o) }),
	}
	cmd.Flags().StringVarP(&o.configPath, "config", "c", "", "config file (tenants, credentials); default: the AZURE_* variables")
	cmd.Flags().StringSliceVar(&o.envs, "env", nil, "only environments whose name or ID matches this glob (repeatable)")
	return cmd
}

func runDoctor(ctx context.Context, g *globals, o doctorOptions) error {
	s, err := audit.Open(ctx, g.deps(true), audit.Settings{ConfigPath: o.configPath, Envs: o.envs})
	if err != nil {
		return err
	}
	cfg := s.Config()
	clientIDs := map[string]string{}
	for _, t := range cfg.Tenants {
		clientIDs[t.Name] = t.ClientID
		if t.ManagedIdentity {
			// A managed identity registers by its own client ID (the system-assigned one's is on its host).
			clientIDs[t.Name] = t.ManagedIdentityClientID
			if clientIDs[t.Name] == "" {
				clientIDs[t.Name] = "<the managed identity's client ID>"
			}
		}
	}
	r := doctor.Run(ctx, s.Collector(), s.Targets(), doctor.Options{ClientIDs: clientIDs, ClearCacheAction: cfg.Work365.ClearCacheAction})
	for _, t := range r.Tenants {
		printf(g.stdout, "Tenant %s (%s)\n", t.Name, t.ID)
		printChecks(g, t.Checks)
		for _, e := range t.Environments {
			printf(g.stdout, "\n  Environment %s (%s)\n", e.Name, e.Kind)
			printChecks(g, e.Checks)
		}
		fmt.Fprintln(g.stdout)
	}
	blocking, warnings := r.Count(doctor.Fail), r.Count(doctor.Warn)
	switch {
	case blocking > 0:
		printf(g.stdout, "%s keep tenants or environments from being audited; %s would keep audit fix from working.\n", problems(blocking), problems(warnings))
		return &exitErr{Code: exitUnaudited}
	case warnings > 0:
		printf(g.stdout, "Scans will work; %s would keep audit fix from working.\n", problems(warnings))
		return &exitErr{Code: exitFailing}
	}
	fmt.Fprintln(g.stdout, "Everything audit needs is in place.")
	return nil
}

var checkLabels = map[doctor.Level]string{doctor.OK: "ok  ", doctor.Info: "info", doctor.Warn: "WARN", doctor.Fail: "FAIL"}

func printChecks(g *globals, cs []doctor.Check) {
	for _, c := range cs {
		printf(g.stdout, "  %s  %s\n", checkLabels[c.Level], c.Message)
		if c.Fix != "" {
			printf(g.stdout, "        fix: %s\n", c.Fix)
		}
	}
}

func problems(n int) string {
	if n == 1 {
		return "1 problem"
	}
	return fmt.Sprintf("%d problems", n)
}
