// Package cli holds ConnectBook's subcommands and all of its wiring.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
)

const usage = `ConnectBook: a social network whose sessions are secure by construction.

Usage:
  connectbook [serve] [flags]           serve the web app (the default)
  connectbook user add|passwd|delete    manage accounts
  connectbook sessions list|revoke      see and end a user's sessions
  connectbook events [--user U]         read the security event log
  connectbook probe --target URL ...    run session attacks against a site (yours)
  connectbook lab --variant V           serve a deliberately vulnerable replica (loopback only)
  connectbook demo [--db FILE]          fill a database with a made-up network to try it out
  connectbook help [command]            show help

Run "connectbook help <command>" for a command's flags.
`

// Run runs the subcommand named by args[0] and returns the exit code:
// 0 on success, 1 when the command failed, 2 when it was misused.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, os.Stdin, stdout, stderr)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd, rest := "serve", args
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "user":
		return userCmd(ctx, rest, stdin, stdout, stderr)
	case "sessions":
		return sessionsCmd(ctx, rest, stdout, stderr)
	case "events":
		return eventsCmd(ctx, rest, stdout, stderr)
	case "probe":
		return probeCmd(ctx, rest, stdin, stdout, stderr)
	case "lab":
		return labCmd(ctx, rest, stdout, stderr)
	case "demo":
		return demoCmd(ctx, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" {
			return run(ctx, []string{rest[0], "-h"}, stdin, stdout, stdout)
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "connectbook: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}
