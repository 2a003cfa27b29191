// Command emac computes, checks and governs user-journey objectives that
// emerge from the services a journey calls. See `emac --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/emac-dev/emac/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
