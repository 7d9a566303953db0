// Package cli holds ConnectBook's subcommands and all of its wiring.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
)

// commands are the subcommands, in the order help lists them.
var commands = []struct{ name, summary string }{
	{"serve", "serve the web app (the default command)"},
	{"user", "add an account, set its password, or delete it"},
	{"sessions", "list a user's sessions and end them"},
	{"events", "read the security event log"},
	{"backup", "copy a running SQLite database to a new file"},
	{"probe", "run session attacks against a site you are allowed to test"},
	{"lab", "serve a deliberately vulnerable replica, on loopback only"},
	{"demo", "fill a database with a made-up network to try ConnectBook out"},
	{"version", "show the version, the commit and the Go version"},
	{"help", "show help for a command"},
}

// topHelp is help about connectbook itself.
var topHelp = help{
	synopsis: []string{
		"connectbook <command> [arguments] [flags]",
		"connectbook [flags]        (the same as connectbook serve [flags])",
	},
}

// usage is what "connectbook help" prints.
func usage() string {
	var b strings.Builder
	b.WriteString("ConnectBook: a social network whose sessions are secure by construction.\n\n")
	b.WriteString(topHelp.full(nil))
	b.WriteString("\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun \"connectbook help <command>\" or \"connectbook <command> -h\" for a command's usage and flags.\n")
	return b.String()
}

// shortUsage is what follows a misuse of connectbook itself.
func shortUsage() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return "Usage:\n  " + topHelp.synopsis[0] + "\nCommands: " + strings.Join(names, ", ") +
		"\nRun \"connectbook help\" for what each command does.\n"
}

// Run runs the subcommand named by args[0] and returns the exit code:
// 0 on success, 1 when the command failed, 2 when it was misused.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// The Redis client logs its connection failures to the process's
	// standard error; the commands report them once, in their own words.
	redis.SetLogger(&logging.VoidLogger{})
	return run(ctx, args, os.Stdin, stdout, stderr)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd, rest := "serve", args
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "-h" || a == "-help" || a == "--help":
			cmd, rest = "help", args[1:]
		case a == "-version" || a == "--version":
			cmd, rest = "version", args[1:]
		case a == "" || a[0] != '-':
			cmd, rest = a, args[1:]
		}
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
	case "backup":
		return backupCmd(ctx, rest, stdout, stderr)
	case "probe":
		return probeCmd(ctx, rest, stdin, stdout, stderr)
	case "lab":
		return labCmd(ctx, rest, stdout, stderr)
	case "demo":
		return demoCmd(ctx, rest, stdout, stderr)
	case "version":
		return versionCmd(rest, stdout, stderr)
	case "help":
		// "help <command> [subcommand]" is "<command> [subcommand] -h".
		if len(rest) > 0 && rest[0] != "help" && !strings.HasPrefix(rest[0], "-") {
			return run(ctx, append(rest[:len(rest):len(rest)], "-h"), stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage())
		return 0
	default:
		fmt.Fprintf(stderr, "connectbook: unknown command %q\n%s", cmd, shortUsage())
		return 2
	}
}
