package cli

import (
	"strings"
	"testing"

	"github.com/connectbook/connectbook/internal/testdb"
)

func TestDemoCommand(t *testing.T) {
	dsn := testdb.SQLite(t)
	code, out, errOut := cmd(t, "", "demo", "--db", dsn)
	if code != 0 || !strings.Contains(out, "username: demo") || !strings.Contains(out, "password: ") {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errOut)
	}
	pw := strings.TrimSpace(out[strings.Index(out, "password: ")+len("password: "):])
	// The printed password is the demo account's.
	if code, _, errOut := cmd(t, pw+"\n", "user", "passwd", "demo", "--db", dsn); code != 0 {
		t.Fatalf("the demo account is not there: %s", errOut)
	}
	if code, out, errOut := cmd(t, "", "demo", "--db", dsn); code != 2 || !strings.Contains(errOut, "already") || out != "" {
		t.Fatalf("second run: exit %d, %q, %q; want 2 saying the data is there, and nothing promised", code, out, errOut)
	}
	if code, out, _ := cmd(t, "", "help"); code != 0 || !strings.Contains(out, "\n  demo ") {
		t.Fatalf("help does not list demo:\n%s", out)
	}
}
