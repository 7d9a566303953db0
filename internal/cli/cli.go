// Package cli holds ConnectBook's subcommands and all of its wiring.
package cli

import (
	"context"
	"fmt"
	"io"
)

const usage = `ConnectBook: a social network whose sessions are secure by construction.

Usage:
  connectbook [serve] [flags]   serve the web app (the default)
  connectbook help              show this help

Run "connectbook serve -h" for the serve flags.
`

// Run runs the subcommand named by args[0] and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, rest := "serve", args
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "connectbook: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}
