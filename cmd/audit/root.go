package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/progress"
)

// globals are the process-wide dependencies of every command; tests replace them.
type globals struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
	getenv func(string) string
	// httpClient, when set, is used for every API call (tests inject one that trusts the emulator's CA).
	httpClient *http.Client
	// stdinTTY and stderrTTY say whether those are terminals (prompts, progress, colour).
	stdinTTY, stderrTTY, stdoutTTY bool
	termWidth                      int
	// debug logs every HTTP request (method, URL, status, time) to standard error; never headers or bodies.
	debug bool
	// observer, when set, is told of every API request and retry (audit schedule's metrics).
	observer api.Observer
}

func defaultGlobals(stdin io.Reader, stdout, stderr io.Writer) *globals {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now, getenv: os.Getenv}
	if f, ok := stdin.(*os.File); ok {
		g.stdinTTY = term.IsTerminal(int(f.Fd()))
	}
	if f, ok := stderr.(*os.File); ok {
		g.stderrTTY = term.IsTerminal(int(f.Fd()))
	}
	if f, ok := stdout.(*os.File); ok {
		g.stdoutTTY = term.IsTerminal(int(f.Fd()))
		if g.stdoutTTY {
			if w, _, err := term.GetSize(int(f.Fd())); err == nil {
				g.termWidth = w
			}
		}
	}
	return g
}

// deps are the dependencies of a run of the application layer: the clock, the environment, the HTTP client,
// standard error for its notes, and the progress of collection on a terminal (not with quiet).
func (g *globals) deps(quiet bool) audit.Deps {
	return audit.Deps{Now: g.now, Getenv: g.getenv, HTTP: g.httpClient, Stderr: g.stderr, Quiet: quiet, Debug: g.debug,
		Interactive: g.stdinTTY && g.stderrTTY, Progress: progress.New(g.stderr, progress.Options{Enabled: g.stderrTTY && !quiet,
			Color: g.getenv("NO_COLOR") == "", Width: g.termWidth, Now: g.now}), ToolVersion: toolVersion(), Observer: g.observer}
}

func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return executeWith(ctx, defaultGlobals(stdin, stdout, stderr), args)
}

// executeWith runs the command line with the given dependencies and returns the exit code.
func executeWith(ctx context.Context, g *globals, args []string) int {
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(g.stdin)
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitErr
	if !errors.As(err, &ee) {
		// Errors that did not come through a command's RunE are cobra's: unknown command, bad flag, bad args.
		err = &exitErr{Code: exitUsage, Err: fmt.Errorf("%w\nRun 'audit --help' for usage.", err)}
		errors.As(err, &ee)
	}
	if ee.Err != nil {
		fmt.Fprintf(g.stderr, "audit: %s\n", errorText(ee.Err))
	}
	return ee.Code
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "audit",
		Short: "Audit Power Platform environments against Work 365's application-user guide, and fix what it finds",
		Long: `audit checks every Dataverse environment of one or more tenants against Work 365's guide
"Configure an Application User for Work 365": a dedicated application user with the roles
Work 365 Service and Work 365 Portal Service, set as the Work 365 service user, instead of a
licensed human account. It reports findings as a table, JSON and other formats, and can apply
the remediations that are safe to automate.

Credentials come from a config file (--config) or the AZURE_TENANT_ID, AZURE_CLIENT_ID and
AZURE_CLIENT_SECRET / AZURE_CLIENT_CERTIFICATE_PATH / AZURE_FEDERATED_TOKEN_FILE variables.

Exit codes: 0 nothing failing at or above --fail-on; 3 failing results at or above it;
4 an environment could not be audited (takes precedence over 3); 5 a fix step failed or has an
unknown outcome (audit fix, scan --fix); 2 usage or config error; 1 any other error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       toolVersion(),
	}
	root.PersistentFlags().BoolVar(&g.debug, "debug", false, "log every HTTP request (method, URL, status, duration) to standard error; credentials are never logged")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitErr{Code: exitUsage, Err: fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	root.AddCommand(
		newScanCmd(g),
		newCollectCmd(g),
		newEvaluateCmd(g),
		newDemoCmd(g),
		newEmulatorCmd(g),
		newPoliciesCmd(g),
		newFixCmd(g),
		newDoctorCmd(g),
		newDiffCmd(g),
		newHistoryCmd(g),
		newMergeCmd(g),
		newScheduleCmd(g),
		newVersionCmd(g),
	)
	return root
}

// runE wraps a command body so that its errors carry exit code 1 unless they carry their own.
func runE(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := f(cmd, args)
		if err == nil {
			return nil
		}
		var ee *exitErr
		if errors.As(err, &ee) {
			return err
		}
		return &exitErr{Code: exitError, Err: err}
	}
}
