package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
	"github.com/connectbook/connectbook/internal/data"
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

// open opens the app on the flags' stores. On failure it reports the
// error itself and returns nil and the exit code.
func (f *adminFlags) open(ctx context.Context, cmd string, stderr io.Writer) (*app.App, int) {
	if err := checkRedisURL(f.sessionStore); err != nil {
		fmt.Fprintf(stderr, "connectbook %s: %v\n", cmd, err)
		return nil, 2
	}
	a, err := openApp(ctx, app.Options{
		DB: f.db, SessionStore: f.sessionStore, Admin: true,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		fmt.Fprintf(stderr, "connectbook %s: %v\n", cmd, err)
		return nil, 1
	}
	return a, 0
}

// cliError is a failure worded for the command line, with its exit code.
type cliError struct {
	msg  string
	code int
}

func (e *cliError) Error() string { return e.msg }

// report prints a failed command's error and returns its exit code: 2 for
// a problem with what was asked (a bad password, an unknown user), 130
// (143 for SIGTERM) for a prompt interrupted, 1 for anything else.
func report(stderr io.Writer, cmd string, err error) int {
	var intr *interruptedError
	if errors.As(err, &intr) {
		fmt.Fprintf(stderr, "connectbook %s: %v\n", cmd, err)
		return intr.exitCode()
	}
	var ce *cliError
	if errors.As(err, &ce) {
		fmt.Fprintf(stderr, "connectbook %s: %s\n", cmd, ce.msg)
		return ce.code
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

// lookupUser returns the user named username, or an error saying there is
// none.
func lookupUser(ctx context.Context, acc *account.Service, username string) (data.User, error) {
	u, err := acc.User(ctx, username)
	var ae *account.Error
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		if norm, err := auth.NormalizeUsername(username); err == nil {
			username = norm
		}
		return data.User{}, &cliError{fmt.Sprintf("there is no user %q", username), 2}
	}
	return u, err
}

var userHelp = help{
	name: "user",
	synopsis: []string{
		"connectbook user add <username> [flags]",
		"connectbook user passwd <username> [flags]",
		"connectbook user delete <username> [--yes] [flags]",
	},
	about: `add creates an account. passwd sets a new password and ends all of the
user's sessions. delete deletes the account with its posts, follows and
sessions; its security events stay for 90 days.

The password is read from the terminal, asked twice (and asked again, up to
three times, when the two do not match), or else from the first line of
standard input.

delete asks for the username again, to confirm, when standard input is a
terminal; elsewhere it refuses without --yes.
`,
}

func userCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	f := newFlags("user", &userHelp)
	var af adminFlags
	af.register(f.FlagSet)
	yes := f.Bool("yes", false, "with delete: delete without asking to confirm")
	if code, stop := f.parse(args, stdout, stderr); stop {
		return code
	}
	if f.NArg() == 0 {
		return f.misuse(stderr, "missing subcommand: add, passwd or delete")
	}
	sub := f.Arg(0)
	if sub != "add" && sub != "passwd" && sub != "delete" {
		return f.misuse(stderr, "unknown subcommand %q: use add, passwd or delete", sub)
	}
	f.cmd = "user " + sub
	if f.NArg() != 2 {
		return f.misuse(stderr, "give exactly one username")
	}
	name := f.Arg(1)
	if *yes && sub != "delete" {
		return f.misuse(stderr, "--yes goes with delete only")
	}
	if sub == "delete" && !*yes && !isTerminal(stdin) {
		fmt.Fprintf(stderr, "connectbook user delete: standard input is not a terminal, so there is no one to confirm: pass --yes to delete %s with all their posts, follows and sessions\n", name)
		return 2
	}
	st, code := af.open(ctx, f.cmd, stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	if err := userDo(ctx, st.Account, sub, name, *yes, stdin, stdout); err != nil {
		return report(stderr, f.cmd, err)
	}
	return 0
}

func userDo(ctx context.Context, acc *account.Service, sub, name string, yes bool, stdin io.Reader, stdout io.Writer) error {
	switch sub {
	case "add":
		// Checked before asking for a password, which would be typed in
		// vain.
		norm, err := auth.NormalizeUsername(name)
		if err != nil {
			return err
		}
		if _, err := acc.User(ctx, norm); err == nil {
			return &cliError{fmt.Sprintf("the username %s is taken", norm), 2}
		}
		pw, err := readNewPassword(ctx, stdin, stdout, norm)
		if err != nil {
			return err
		}
		u, err := acc.AddUser(ctx, norm, pw, pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Created user %s (id %d).\n", u.Username, u.ID)
	case "passwd":
		u, err := lookupUser(ctx, acc, name)
		if err != nil {
			return err
		}
		pw, err := readNewPassword(ctx, stdin, stdout, u.Username)
		if err != nil {
			return err
		}
		n, err := acc.SetPassword(ctx, u.Username, pw, pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Password of %s changed; %s ended.\n", u.Username, plural(n, "session"))
	case "delete":
		u, err := lookupUser(ctx, acc, name)
		if err != nil {
			return err
		}
		if !yes {
			if err := confirmDelete(ctx, stdin, stdout, u.Username); err != nil {
				return err
			}
		}
		n, err := acc.DeleteUser(ctx, u.Username)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Deleted user %s; %s ended.\n", u.Username, plural(n, "session"))
	}
	return nil
}

// plural counts n of a thing: "1 session", "2 sessions".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// passwordAttempts is how many times a terminal asks for a new password
// whose two copies do not match.
const passwordAttempts = 3

// readNewPassword asks for the new password of the user on a terminal,
// twice, until the two match; elsewhere it reads one line.
func readNewPassword(ctx context.Context, stdin io.Reader, out io.Writer, username string) (string, error) {
	for attempt := 1; ; attempt++ {
		pw, terminal, err := readSecret(ctx, stdin, out, "New password for "+username+": ")
		if err != nil || !terminal {
			return pw, err
		}
		again, _, err := readSecret(ctx, stdin, out, "Retype the new password for "+username+": ")
		if err != nil {
			return "", err
		}
		if pw == again {
			return pw, nil
		}
		if attempt == passwordAttempts {
			return "", &cliError{fmt.Sprintf("the two passwords did not match, %d times; nothing was changed", passwordAttempts), 2}
		}
		fmt.Fprintln(out, "The two passwords do not match. Try again.")
	}
}

// confirmDelete asks, on the terminal, to type the username to confirm
// deleting the user.
func confirmDelete(ctx context.Context, stdin io.Reader, out io.Writer, username string) error {
	answer, err := readAnswer(ctx, stdin, out,
		fmt.Sprintf("Delete user %s and all their posts, follows and sessions? Type the username to confirm: ", username))
	if err != nil {
		return err
	}
	if !strings.EqualFold(strings.TrimPrefix(strings.TrimSpace(answer), "@"), username) {
		return &cliError{"not confirmed; nothing was deleted", 1}
	}
	return nil
}

var sessionsHelp = help{
	name: "sessions",
	synopsis: []string{
		"connectbook sessions list --user <username> [flags]",
		"connectbook sessions revoke --user <username> --session <id> [flags]",
		"connectbook sessions revoke --user <username> --all [flags]",
		"connectbook sessions revoke --all-users [flags]",
	},
	about: `list shows the user's live sessions with their ids; revoke ends one of them,
all of them with --all, or every session of every user with --all-users
(everyone must sign in again; for instance after a leak). Revoking all of a
user's sessions also refuses any sign-in that was under way.
`,
}

func sessionsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("sessions", &sessionsHelp)
	var af adminFlags
	af.register(f.FlagSet)
	user := f.String("user", "", "the user's username")
	all := f.Bool("all", false, "with revoke: end every session of the user")
	allUsers := f.Bool("all-users", false, "with revoke: end every session of every user")
	id := f.String("session", "", "with revoke: the id of the session to end (from list)")
	if code, stop := f.parse(args, stdout, stderr); stop {
		return code
	}
	if f.NArg() == 0 {
		return f.misuse(stderr, "missing subcommand: list or revoke")
	}
	sub := f.Arg(0)
	if sub != "list" && sub != "revoke" {
		return f.misuse(stderr, "unknown subcommand %q: use list or revoke", sub)
	}
	f.cmd = "sessions " + sub
	switch {
	case *allUsers && (sub != "revoke" || *user != "" || *all || *id != ""):
		return f.misuse(stderr, "--all-users goes alone, with revoke")
	case *user == "" && !*allUsers:
		return f.misuse(stderr, "--user is required")
	case f.NArg() > 1:
		return f.misuse(stderr, "unexpected argument %q", f.Arg(1))
	case sub == "revoke" && !*allUsers && *all == (*id != ""):
		return f.misuse(stderr, "give either --session ID or --all")
	}
	if *id != "" && (len(*id) < 12 || len(*id) > 32 || strings.Trim(strings.ToLower(*id), "0123456789abcdef") != "") {
		return f.misuse(stderr, "--session takes a session id as shown by list (12 or 32 hexadecimal digits)")
	}
	cmd := f.cmd
	st, code := af.open(ctx, cmd, stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	switch {
	case *allUsers:
		users, n, err := st.Account.RevokeEveryone(ctx)
		if err != nil {
			return report(stderr, cmd, err)
		}
		fmt.Fprintf(stdout, "Ended %s of %s; everyone must sign in again.\n", plural(n, "session"), plural(users, "user"))
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
		fmt.Fprintf(stdout, "Ended %s of %s.\n", plural(n, "session"), *user)
	default:
		if err := st.Account.AdminRevokeSession(ctx, *user, *id); err != nil {
			return report(stderr, cmd, err)
		}
		fmt.Fprintf(stdout, "Ended session %s of %s.\n", strings.ToLower(*id), *user)
	}
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
