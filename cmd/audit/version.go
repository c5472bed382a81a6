package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func toolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of audit and of its embedded policies",
		Args:  cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			eng, err := audit.LoadEngine(cmd.Context(), nil, nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "audit %s\npolicies %s (%d rules)\n", toolVersion(), eng.Digest(), len(eng.Rules()))
			return nil
		}),
	}
}
