// Command connectbook runs the ConnectBook social network and its tools.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/connectbook/connectbook/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
