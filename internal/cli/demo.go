package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/connectbook/connectbook/internal/demo"
)

var demoHelp = help{
	name:     "demo",
	synopsis: []string{"connectbook demo [--db FILE] [flags]"},
	about: `Fills the database with a small made-up network — a few dozen people with
clearly fake names, their posts over the last three weeks, who follows whom,
a private account and a request to follow — and creates one account to sign
in with, whose password it prints at the end. Run it once, on a database
meant for trying ConnectBook out, then start the server.
`,
}

func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("demo", &demoHelp)
	var af adminFlags
	af.register(f.FlagSet)
	if code, stop := f.parse(args, stdout, stderr); stop {
		return code
	}
	if f.NArg() > 0 {
		return f.misuse(stderr, "unexpected argument %q", f.Arg(0))
	}
	st, code := af.open(ctx, "demo", stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	// Filled already: say so before promising anything. (Fill checks
	// again, for a run that started meanwhile.)
	if _, err := st.DB.UserByUsername(ctx, demo.Username); err == nil {
		fmt.Fprintf(stderr, "connectbook demo: %v\n", demo.ErrFilled)
		return 2
	}
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
