// Command audit-bench measures audit at scale: scan, evaluation and fix against a generated tenant served by
// the emulator, each measured command in a process of its own, started from this binary. The measured
// commands run the same application layer (internal/audit) as audit itself. `make bench` runs it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/bench"
	"github.com/work365/audit/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Stdin, os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "audit-bench: %v\n", err)
		os.Exit(audit.CodeOf(err))
	}
}

// options are the flags of the harness.
type options struct {
	out         string
	envs        int
	users       int
	appUsers    int
	latency     time.Duration
	limit       int
	concurrency int
	perEnv      int
	sample      int
	fixEnvs     int
	tenants     int
	share       float64
	evalRuns    int
	opa         string
	cpuProfile  string
}

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "audit-bench",
		Short: "Measure audit's scan, evaluation and fix at scale against a generated tenant on the emulator",
		Long: `audit-bench generates a tenant (by default 1,000 environments of 300 users, 50 of them application
users, with the usual roles in two business units and the evidence tables of every rule), serves it with the
emulator in a separate process with a per-request latency and Dataverse's concurrency limit, and measures in
one run:

  - the scan at the default concurrency: wall time, requests, the dependency depth D of one environment's
    requests, the lower bound max(D·t, N·R·t/C) and the ratio of the wall time to it;
  - the same scan at concurrency 1 on a sample, scaled, for the speed-up;
  - evaluation alone on the collected snapshot, against 'opa eval' on the same input and policies;
  - peak RSS of the scan process and its allocations per environment;
  - 'audit fix --apply' over generated environments that each need a few fixes, against its own bound.

The results go to --output as bench-<time>.json (the schema is in docs/performance.md) and a Markdown
table, which is also printed; 'audit-bench compare OLD.json NEW.json' sets two runs side by side.
Each measured command runs in its own process, so the memory reported is that command's alone.
'opa eval' is built from the OPA module audit uses (go build), unless --opa names a binary or is
"none". Run it from the repository root: 'make bench'.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), o, stdout, stderr) },
	}
	cmd.Flags().StringVarP(&o.out, "output", "o", ".bench", "directory for results and scratch files")
	cmd.Flags().IntVar(&o.envs, "environments", 1000, "environments in the generated tenant")
	cmd.Flags().IntVar(&o.users, "users", 300, "users per environment")
	cmd.Flags().IntVar(&o.appUsers, "app-users", 50, "application users among them")
	cmd.Flags().IntVar(&o.tenants, "tenants", 1, "tenants the environments are split between, each with its own client (the fleet profile: --tenants 100 --environments 10000 --work365-share 0.25)")
	cmd.Flags().Float64Var(&o.share, "work365-share", 1, "share of environments that run Work 365; the others are Dataverse environments without it and Teams environments")
	cmd.Flags().DurationVar(&o.latency, "latency", 100*time.Millisecond, "latency the emulator adds to every BAP and Dataverse request")
	cmd.Flags().IntVar(&o.limit, "limit", 52, "Dataverse's concurrent-request limit per environment (429 beyond it)")
	cmd.Flags().IntVar(&o.concurrency, "concurrency", 0, "requests in flight across all environments (default: collect.concurrency's default)")
	cmd.Flags().IntVar(&o.perEnv, "per-environment", 0, "requests in flight per environment (default: collect.per_environment's default)")
	cmd.Flags().IntVar(&o.sample, "sequential-sample", 50, "environments scanned at concurrency 1 for the speed-up (0 skips)")
	cmd.Flags().IntVar(&o.fixEnvs, "fix-environments", 100, "environments of the fix measurement (0 skips)")
	cmd.Flags().IntVar(&o.evalRuns, "eval-runs", 5, "evaluations of the snapshot (the median is reported)")
	cmd.Flags().StringVar(&o.cpuProfile, "cpuprofile", "", "directory where each measured process writes a CPU profile, <command>-<pid>.pprof (for 'go tool pprof')")
	cmd.Flags().StringVar(&o.opa, "opa", "", `opa binary for the comparison (default: built from the OPA module; "none" skips it)`)
	compare := &cobra.Command{
		Use:   "compare OLD.json NEW.json",
		Short: "Compare two benchmark results measure by measure",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			var a, b bench.Result
			if err := bench.ReadJSON(args[0], &a); err != nil {
				return audit.WithCode(audit.CodeUsage, err)
			}
			if err := bench.ReadJSON(args[1], &b); err != nil {
				return audit.WithCode(audit.CodeUsage, err)
			}
			fmt.Fprint(stdout, bench.Compare(&a, &b))
			return nil
		},
	}
	cmd.AddCommand(compare, newServeCmd(stdin, stdout), newScanCmd(), newCollectCmd(), newEvalCmd(), newFixCmd(stderr))
	// Each measured process profiles itself when the harness was asked to (it inherits the environment).
	var stopProfile func()
	cmd.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if c == cmd {
			if o.cpuProfile == "" {
				return nil
			}
			if err := os.MkdirAll(o.cpuProfile, 0o755); err != nil {
				return fmt.Errorf("create profile directory: %w", err)
			}
			abs, err := filepath.Abs(o.cpuProfile)
			if err != nil {
				return err
			}
			return os.Setenv(cpuProfileEnv, abs)
		}
		var err error
		stopProfile, err = startCPUProfile(os.Getenv(cpuProfileEnv), c.Name())
		return err
	}
	cmd.PersistentPostRun = func(*cobra.Command, []string) {
		if stopProfile != nil {
			stopProfile()
		}
	}
	return cmd
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the audit-bench binary: %w", err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	res, err := bench.Run(ctx, bench.Options{
		Exe: exe, Dir: o.out, Spec: bench.Spec{Environments: o.envs, Users: o.users, AppUsers: o.appUsers, Tenants: o.tenants, Work365Share: o.share},
		Latency: o.latency, Limit: o.limit, Concurrency: o.concurrency, PerEnvironment: o.perEnv,
		DefaultConcurrency: config.DefaultConcurrency, DefaultPerEnvironment: config.DefaultPerEnvironment,
		Sample: o.sample, FixEnvironments: o.fixEnvs, EvalRuns: o.evalRuns, OPA: o.opa, Log: stderr, Version: version(),
	})
	if err != nil {
		return err
	}
	jsonPath, mdPath, err := bench.Save(o.out, res)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, bench.Markdown(res))
	fmt.Fprintf(stderr, "wrote %s and %s\n", jsonPath, mdPath)
	return nil
}

// version is the module version this binary was built from, as audit reports its own.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// cpuProfileEnv passes --cpuprofile's directory to the measured processes.
const cpuProfileEnv = "AUDIT_BENCH_CPUPROFILE"

// startCPUProfile starts a CPU profile of this process in dir (none when dir is empty) and returns what stops it.
func startCPUProfile(dir, name string) (func(), error) {
	if dir == "" {
		return nil, nil
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", name, os.Getpid())))
	if err != nil {
		return nil, fmt.Errorf("create CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
