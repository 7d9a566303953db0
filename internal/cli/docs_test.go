package cli

import (
	"os"
	"strings"
	"testing"
)

// docs/cli.md shows each command's help as the command prints it.
func TestDocsMatchHelp(t *testing.T) {
	clearEnv(t)
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	check := func(shown string, args ...string) {
		t.Helper()
		code, out, errs := cmd(t, "", args...)
		if code != 0 || errs != "" {
			t.Fatalf("%q: exit %d, %q", args, code, errs)
		}
		if want := "```text\n$ connectbook " + shown + "\n" + out + "```\n"; !strings.Contains(string(doc), want) {
			t.Errorf("docs/cli.md does not show the output of connectbook %s as it is:\n%s", shown, out)
		}
	}
	check("--help", "--help")
	for _, c := range commands {
		if c.name != "help" {
			check("help "+c.name, "help", c.name)
			if !strings.Contains(string(doc), "\n## "+c.name+"\n") {
				t.Errorf("docs/cli.md has no section on %s", c.name)
			}
		}
	}
}
