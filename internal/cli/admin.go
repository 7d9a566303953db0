package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/connectbook/connectbook/internal/account"
	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/config"
)

// adminFlags are the flags every administrative command takes.
type adminFlags struct {
	db, sessionStore string
}

func (f *adminFlags) register(fs *flag.FlagSet) {
	def := func(env, d string) string {
		if v := os.Getenv(env); v != "" {
			return v
		}
		return d
	}
	fs.StringVar(&f.db, "db", def("CONNECTBOOK_DB", config.DefaultDB), "SQLite database file or postgres:// URL (CONNECTBOOK_DB)")
	fs.StringVar(&f.sessionStore, "session-store", def("CONNECTBOOK_SESSION_STORE", ""), "empty for the database, or a redis:// URL (CONNECTBOOK_SESSION_STORE)")
}

func (f *adminFlags) open(ctx context.Context, stderr io.Writer) (*app.App, error) {
	return app.Open(ctx, app.Options{
		DB: f.db, SessionStore: f.sessionStore, Admin: true,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
}

// report prints a failed command's error and returns its exit code: 2 for
// a problem with what was asked (a bad password, an unknown user), 130
// (143 for SIGTERM) for a password prompt interrupted, 1 for anything else.
func report(stderr io.Writer, cmd string, err error) int {
	var intr *interruptedError
	if errors.As(err, &intr) {
		fmt.Fprintf(stderr, "connectbook %s: %v\n", cmd, err)
		return intr.exitCode()
	}
	var ae *account.Error
	if errors.As(err, &ae) {
		fmt.Fprintf(stderr, "connectbook %s: %s\n", cmd, ae.Message)
		return 2
	}
	var ie *auth.InputError
	if errors.As(err, &ie) {
		fmt.Fprintf(stderr, "connectbook %s: %s\n", cmd, ie.Message)
		return 2
	}
	fmt.Fprintf(stderr, "connectbook %s: %v\n", cmd, err)
	return 1
}

// newFlagSet returns a flag set whose -h prints usage and the flags.
func newFlagSet(name, usage string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usage)
		fmt.Fprintln(out, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, flags and arguments in any order, and reports an exit
// code when the command should stop. The arguments are left in fs.Args().
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0, true
			}
			return 2, true
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	fs.Parse(append([]string{"--"}, positional...))
	return 0, false
}

// subcommandHelp prints usage and the flags that register adds when args
// name no subcommand (exit 2) or ask for help (exit 0), and reports whether
// it did.
func subcommandHelp(args []string, usage string, register func(*flag.FlagSet), stdout io.Writer) (int, bool) {
	if len(args) > 0 && args[0] != "-h" && args[0] != "--help" && args[0] != "-help" {
		return 0, false
	}
	fs := newFlagSet("", usage, stdout)
	register(fs)
	fs.Usage()
	if len(args) == 0 {
		return 2, true
	}
	return 0, true
}

const userUsage = `Usage:
  connectbook user add <username>       create an account
  connectbook user passwd <username>    set a new password and end all of the user's sessions
  connectbook user delete <username>    delete an account and end all of its sessions

The password is read from the terminal (asked twice), or else from the first
line of standard input.
`

func userCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if code, done := subcommandHelp(args, userUsage, func(fs *flag.FlagSet) { new(adminFlags).register(fs) }, stdout); done {
		return code
	}
	sub := args[0]
	fs := newFlagSet("user "+sub, userUsage, stderr)
	var af adminFlags
	af.register(fs)
	if code, stop := parse(fs, args[1:]); stop {
		return code
	}
	if sub != "add" && sub != "passwd" && sub != "delete" {
		fmt.Fprintf(stderr, "connectbook user: unknown subcommand %q\n\n%s", sub, userUsage)
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "connectbook user %s: give exactly one username\n", sub)
		return 2
	}
	st, err := af.open(ctx, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "connectbook user %s: %v\n", sub, err)
		return 1
	}
	defer st.Close()
	if err := userDo(ctx, st.Account, sub, fs.Arg(0), stdin, stdout); err != nil {
		return report(stderr, "user "+sub, err)
	}
	return 0
}

func userDo(ctx context.Context, acc *account.Service, sub, name string, stdin io.Reader, stdout io.Writer) error {
	switch sub {
	case "add":
		pw, confirm, err := readPassword(ctx, stdin, stdout)
		if err != nil {
			return err
		}
		u, err := acc.AddUser(ctx, name, pw, confirm)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Created user %s (id %d).\n", u.Username, u.ID)
	case "passwd":
		pw, confirm, err := readPassword(ctx, stdin, stdout)
		if err != nil {
			return err
		}
		n, err := acc.SetPassword(ctx, name, pw, confirm)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Password of %s changed; %s ended.\n", name, sessionCount(n))
	case "delete":
		n, err := acc.DeleteUser(ctx, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Deleted user %s; %s ended.\n", name, sessionCount(n))
	}
	return nil
}

func sessionCount(n int) string {
	if n == 1 {
		return "1 session"
	}
	return strconv.Itoa(n) + " sessions"
}

// readPassword asks twice on a terminal, or reads one line otherwise.
func readPassword(ctx context.Context, stdin io.Reader, stdout io.Writer) (string, string, error) {
	pw, terminal, err := readSecret(ctx, stdin, stdout, "Password: ")
	if err != nil || !terminal {
		return pw, pw, err
	}
	confirm, _, err := readSecret(ctx, stdin, stdout, "Password again: ")
	return pw, confirm, err
}

const sessionsUsage = `Usage:
  connectbook sessions list --user <username>
  connectbook sessions revoke --user <username> --session <id>
  connectbook sessions revoke --user <username> --all
  connectbook sessions revoke --all-users

list shows the user's live sessions with their ids; revoke ends one of them,
all of them with --all, or every session of every user with --all-users
(everyone must sign in again; for instance after a leak). Revoking all of a
user's sessions also refuses any sign-in that was under way.
`

func sessionsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var af adminFlags
	var user, id *string
	var all, allUsers *bool
	register := func(fs *flag.FlagSet) {
		af.register(fs)
		user = fs.String("user", "", "the user's username")
		all = fs.Bool("all", false, "with revoke: end every session of the user")
		allUsers = fs.Bool("all-users", false, "with revoke: end every session of every user")
		id = fs.String("session", "", "with revoke: the id of the session to end (from list)")
	}
	if code, done := subcommandHelp(args, sessionsUsage, register, stdout); done {
		return code
	}
	sub := args[0]
	fs := newFlagSet("sessions "+sub, sessionsUsage, stderr)
	register(fs)
	if code, stop := parse(fs, args[1:]); stop {
		return code
	}
	misuse := func(msg string) int {
		fmt.Fprintf(stderr, "connectbook sessions %s: %s\n", sub, msg)
		return 2
	}
	switch {
	case sub != "list" && sub != "revoke":
		return misuse("unknown subcommand; use list or revoke")
	case *allUsers && (sub != "revoke" || *user != "" || *all || *id != ""):
		return misuse("--all-users goes alone, with revoke")
	case *user == "" && !*allUsers:
		return misuse("--user is required")
	case fs.NArg() > 0:
		return misuse(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case sub == "revoke" && !*allUsers && *all == (*id != ""):
		return misuse("give either --session ID or --all")
	}
	if *id != "" && (len(*id) < 12 || len(*id) > 32 || strings.Trim(strings.ToLower(*id), "0123456789abcdef") != "") {
		return misuse("--session takes a session id as shown by list (12 or 32 hexadecimal digits)")
	}
	st, err := af.open(ctx, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "connectbook sessions %s: %v\n", sub, err)
		return 1
	}
	defer st.Close()
	cmd := "sessions " + sub
	switch {
	case *allUsers:
		users, n, err := st.Account.RevokeEveryone(ctx)
		if err != nil {
			return report(stderr, cmd, err)
		}
		fmt.Fprintf(stdout, "Ended %s of %d users; everyone must sign in again.\n", sessionCount(n), users)
	case sub == "list":
		list, err := st.Account.UserSessions(ctx, *user)
		if err != nil {
			return report(stderr, cmd, err)
		}
		if len(list) == 0 {
			fmt.Fprintf(stdout, "%s has no live sessions.\n", *user)
			return 0
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tLAST SEEN\tEXPIRES\tIP\tBOUND\tDEVICE\tUSER AGENT")
		for _, s := range list {
			bound := "no"
			if s.Bound {
				bound = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, stamp(s.CreatedAt), stamp(s.LastSeenAt),
				stamp(s.ExpiresAt), clipText(s.LastIP, 64), bound, clipText(s.Device.Label(), 40), clipText(s.UserAgent, 60))
		}
		tw.Flush()
	case *all:
		n, err := st.Account.AdminRevokeAll(ctx, *user)
		if err != nil {
			return report(stderr, cmd, err)
		}
		fmt.Fprintf(stdout, "Ended %s of %s.\n", sessionCount(n), *user)
	default:
		if err := st.Account.AdminRevokeSession(ctx, *user, *id); err != nil {
			return report(stderr, cmd, err)
		}
		fmt.Fprintf(stdout, "Ended session %s of %s.\n", strings.ToLower(*id), *user)
	}
	return 0
}

const eventsUsage = `Usage:
  connectbook events [--user <username> | --user-id N] [--limit N]

Shows the security event log, newest first. --user-id also finds the
events of a deleted account, which are kept for 90 days.
`

func eventsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("events", eventsUsage, stderr)
	var af adminFlags
	af.register(fs)
	user := fs.String("user", "", "only this user's events")
	userID := fs.Int64("user-id", 0, "only the events of the user with this id (a deleted user's too)")
	limit := fs.Int("limit", 50, "how many events to show (at most 10000)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() > 0 || *limit < 1 || *limit > 10000 {
		fmt.Fprintln(stderr, "connectbook events: --limit takes 1 to 10000, and there are no arguments")
		return 2
	}
	st, err := af.open(ctx, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "connectbook events: %v\n", err)
		return 1
	}
	defer st.Close()
	var uid int64
	var uname string
	if *userID < 0 || *userID > 0 && *user != "" {
		fmt.Fprintln(stderr, "connectbook events: give --user or --user-id, not both")
		return 2
	}
	uid = *userID
	if *user != "" {
		u, err := st.Account.User(ctx, *user)
		if err != nil {
			return report(stderr, "events", err)
		}
		uid, uname = u.ID, u.Username
	}
	list, err := st.DB.Events(ctx, uid, uname, *limit)
	if err != nil {
		fmt.Fprintf(stderr, "connectbook events: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tUSER\tIP\tSESSION\tDETAIL")
	for _, e := range list {
		who := e.Username
		if who == "" && e.UserID != 0 {
			who = "#" + strconv.FormatInt(e.UserID, 10)
		}
		// Every column may hold what a client sent: keep control characters
		// away from the terminal.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", stamp(e.At), clipText(e.Kind, 40), dash(clipText(who, 40)),
			dash(clipText(e.ClientIP, 64)), dash(clipText(e.Session, 16)), clipText(e.Detail, 80))
	}
	tw.Flush()
	return 0
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clipText shortens s for a table and removes characters that would break
// the layout or the terminal.
func clipText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || auth.Invisible(r) { // a terminal must show what is there
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
