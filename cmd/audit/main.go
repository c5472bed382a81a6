// Command audit checks the Power Platform environments of one or more tenants against Work 365's
// application-user guide, reports what it finds, and fixes what is safe to fix.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// audit schedule --tz must work in minimal containers without a system time zone database.
	_ "time/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
