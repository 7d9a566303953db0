package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/connectbook/connectbook/internal/demo"
)

const demoUsage = `Usage:
  connectbook demo [--db FILE]

Fills the database with a small made-up network — a few dozen people with
clearly fake names, their posts over the last three weeks, who follows whom,
a private account and a request to follow — and creates one account to sign
in with, whose password it prints at the end. Run it once, on a database
meant for trying ConnectBook out, then start the server.
`

func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", demoUsage, stderr)
	var af adminFlags
	af.register(fs)
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "connectbook demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	st, err := af.open(ctx, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "connectbook demo: %v\n", err)
		return 1
	}
	defer st.Close()
	fmt.Fprintln(stdout, "Creating the demo network (a few seconds: every account's password is hashed)…")
	login, err := demo.Fill(ctx, st.DB, st.Account, time.Now())
	if errors.Is(err, demo.ErrFilled) {
		fmt.Fprintf(stderr, "connectbook demo: %v\n", err)
		return 2
	}
	if err != nil {
		return report(stderr, "demo", err)
	}
	fmt.Fprintf(stdout, "Done: %s now holds a demo network.\n\nStart the server (connectbook serve --db %s) and sign in as\n  username: %s\n  password: %s\n",
		af.db, af.db, login.Username, login.Password)
	return 0
}
