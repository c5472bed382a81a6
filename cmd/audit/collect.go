package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/snapshot"
)

// collectOptions are the flags of audit collect.
type collectCmdOptions struct {
	configPath  string
	envs        []string
	concurrency int
	out         string
	quiet       bool
}

func newCollectCmd(g *globals) *cobra.Command {
	var o collectCmdOptions
	cmd := &cobra.Command{
		Use:   "collect -o snapshot.json",
		Short: "Collect every environment into a snapshot file, without evaluating it",
		Long: `collect reads every environment of the configured tenants and saves the snapshot: the complete,
versioned input of evaluation. 'audit evaluate snapshot.json' then gives the same results as
'audit scan', offline, as often as needed (for example with other policies or waivers).`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runCollect(cmd.Context(), g, o) }),
	}
	addCollectFlags(cmd, &o.configPath, &o.envs, &o.concurrency)
	cmd.Flags().StringVarP(&o.out, "output", "o", "", "snapshot file to write (required)")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "no progress")
	return cmd
}

func runCollect(ctx context.Context, g *globals, o collectCmdOptions) error {
	if o.out == "" {
		return usageError("collect needs --output FILE for the snapshot")
	}
	s, err := audit.Open(ctx, g.deps(o.quiet), audit.Settings{ConfigPath: o.configPath, Envs: o.envs, Concurrency: o.concurrency})
	if err != nil {
		return err
	}
	snap, err := s.CollectTo(ctx, o.out)
	if err != nil {
		return err
	}
	if !o.quiet {
		n, errs := 0, 0
		for _, t := range snap.Tenants {
			for _, e := range t.Environments {
				n++
				if e.Status == snapshot.StatusError {
					errs++
				}
			}
		}
		printf(g.stderr, "wrote %s: %d environments (%d could not be read)\n", o.out, n, errs)
	}
	return nil
}
