package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/work365/audit/internal/demo"
	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/internal/snapshot"
)

// emulatorOptions are the flags of audit emulator serve.
type emulatorOptions struct {
	tenant string
	addr   string
	caOut  string
}

func newEmulatorCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run the built-in Entra, BAP and Dataverse emulator",
	}
	var o emulatorOptions
	serve := &cobra.Command{
		Use:   "serve [--tenant FILE]",
		Short: "Serve a tenant fixture over loopback HTTPS until interrupted",
		Long: `serve starts the emulator on a tenant fixture (see docs/emulator.md) and prints the endpoints and a
config snippet for 'audit scan'. Without --tenant it serves the bundled demo tenant Contoso. Entra and BAP listen on --addr; each Dataverse organization listens on a
port of its own on the same host, chosen at start, and is its own token audience, as real organizations
are. The scan needs only the authority and BAP: it finds each organization's instance URL in the BAP list.
The emulator's CA certificate is written to --ca so that the scan can trust it through SSL_CERT_FILE; TLS
verification is never turned off.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return runEmulatorServe(cmd.Context(), g, o) }),
	}
	serve.Flags().StringVar(&o.tenant, "tenant", "", "tenant fixture file to serve (default: the bundled demo tenant Contoso)")
	serve.Flags().StringVar(&o.addr, "addr", "127.0.0.1:9443", "loopback address of Entra and BAP (each Dataverse organization gets a port of its own on its host)")
	serve.Flags().StringVar(&o.caOut, "ca", "emulator-ca.pem", "file to write the emulator's CA certificate to")
	cmd.AddCommand(serve)
	return cmd
}

func runEmulatorServe(ctx context.Context, g *globals, o emulatorOptions) error {
	fxs, err := demo.Bundled()
	if o.tenant != "" {
		fxs, err = demo.Load([]string{o.tenant})
	}
	if err != nil {
		return withCode(exitUsage, err)
	}
	fx := fxs[0].Fixture
	srv, err := emulator.New(fx, emulator.Options{Addr: o.addr, Now: g.now})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Close()
	if err := snapshot.WriteFilePrivate(o.caOut, srv.CACertPEM()); err != nil {
		return fmt.Errorf("write CA certificate: %w", err)
	}
	if err := os.Chmod(o.caOut, 0o644); err != nil {
		return err
	}
	fmt.Fprint(g.stdout, demo.Instructions(fx, srv, o.caOut))
	<-ctx.Done()
	fmt.Fprintln(g.stdout, "stopped")
	return nil
}
