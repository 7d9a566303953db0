package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/connectbook/connectbook/internal/config"
)

// docOperatingPath is where the flags of "connectbook serve" are documented.
const docOperatingPath = "../../docs/operating.md"

var (
	// docFlagLine is a line of help that starts with a flag, or several
	// (-name, --name, "--tls-cert, --tls-key"), however it is indented and
	// whatever follows.
	docFlagLine = regexp.MustCompile(`^\s*(--?[a-z][a-z0-9-]*(?:,\s*--?[a-z][a-z0-9-]*)*)(?:[\s=,]|$)`)
	docFlagName = regexp.MustCompile(`--?([a-z][a-z0-9-]*)`)
	docEnvName  = regexp.MustCompile(`CONNECTBOOK_[A-Z0-9_]+`)
)

// docTableRow is a row of the flags table: its flags and, in the same order,
// their environment variables.
type docTableRow struct {
	flags, envs []string
}

// The flags table in docs/operating.md says what "connectbook help serve"
// says: the same flags, each with an environment variable that the config
// package reads, and no variable it reads left out.
func TestFlagsDocMatchesServeHelp(t *testing.T) {
	inHelp := docServeHelpFlags(t)
	rows := docServeFlagsTable(t, docOperatingPath)

	documented := map[string]string{} // flag → its variable in the table
	for _, r := range rows {
		for i, f := range r.flags {
			if _, dup := documented[f]; dup {
				t.Errorf("%s: --%s has two rows", docOperatingPath, f)
			}
			documented[f] = ""
			if i < len(r.envs) {
				documented[f] = r.envs[i]
			}
		}
	}
	for _, f := range docSortedKeys(inHelp) {
		if _, ok := documented[f]; !ok {
			t.Errorf("%s: the flags table has no row for --%s, which \"connectbook help serve\" lists", docOperatingPath, f)
		}
	}
	for _, f := range docSortedKeys(documented) {
		if _, ok := inHelp[f]; !ok {
			t.Errorf("%s: the flags table documents --%s, which \"connectbook help serve\" does not list", docOperatingPath, f)
		}
	}

	read := docConfigEnv(t)
	for _, f := range docSortedKeys(documented) {
		env := documented[f]
		switch {
		case env == "":
			t.Errorf("%s: the row of --%s names no CONNECTBOOK_ variable", docOperatingPath, f)
		case !read[env]:
			t.Errorf("%s: --%s is documented with %s, which the config package does not read", docOperatingPath, f, env)
		case inHelp[f] != "" && inHelp[f] != env:
			t.Errorf("%s: --%s is documented with %s, but its help names %s", docOperatingPath, f, env, inHelp[f])
		}
	}
	inTable := map[string]bool{}
	for _, env := range documented {
		inTable[env] = true
	}
	for _, env := range docSortedKeys(read) {
		if !inTable[env] {
			t.Errorf("%s: the config package reads %s, which the flags table does not name", docOperatingPath, env)
		}
	}
}

// docServeHelpFlags runs "connectbook help serve" and returns the flags it
// lists, each with the CONNECTBOOK_ variable its description names ("" if
// none). Only the lines that start with a flag count, after a "Flags:"
// heading if there is one, so that examples in the text above are not
// taken for flags.
func docServeHelpFlags(t *testing.T) map[string]string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"help", "serve"}, &stdout, &stderr); code != 0 {
		t.Fatalf("connectbook help serve: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String() + stderr.String()
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		if strings.EqualFold(strings.TrimSpace(line), "flags:") {
			lines = lines[i+1:]
			break
		}
	}
	found := map[string]string{}
	var current []string // the flags whose description is being read
	for _, line := range lines {
		if m := docFlagLine.FindStringSubmatch(line); m != nil {
			current = nil
			for _, n := range docFlagName.FindAllStringSubmatch(m[1], -1) {
				if n[1] == "h" || n[1] == "help" {
					continue
				}
				if _, seen := found[n[1]]; !seen {
					found[n[1]] = ""
				}
				current = append(current, n[1])
			}
		}
		if envs := docEnvName.FindAllString(line, -1); len(envs) == 1 && len(current) == 1 && found[current[0]] == "" {
			found[current[0]] = envs[0]
		}
	}
	if len(found) < 5 || !docHasKey(found, "addr") || !docHasKey(found, "db") {
		t.Fatalf("found flags %v in the help of serve, want --addr, --db and the rest; the help was:\n%s", docSortedKeys(found), out)
	}
	return found
}

// docServeFlagsTable returns the rows of the first Markdown table in the file
// whose heading row starts with the columns Flag and Environment.
func docServeFlagsTable(t *testing.T, path string) []docTableRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []docTableRow
	inTable := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if !inTable {
			if len(cells) >= 2 && docCellText(cells[0]) == "flag" && docCellText(cells[1]) == "environment" {
				inTable = true
			}
			continue
		}
		if len(cells) < 2 || strings.Trim(cells[0], " -:") == "" { // the |---| row
			continue
		}
		var r docTableRow
		for _, n := range docFlagName.FindAllStringSubmatch(cells[0], -1) {
			r.flags = append(r.flags, n[1])
		}
		r.envs = docEnvName.FindAllString(cells[1], -1)
		if len(r.flags) == 0 {
			t.Errorf("%s: a row of the flags table names no flag: %s", path, line)
			continue
		}
		if len(r.envs) != len(r.flags) {
			t.Errorf("%s: the row of %v names %d variables, want one for each flag: %s", path, r.flags, len(r.envs), line)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no table whose columns start with Flag and Environment", path)
	}
	return rows
}

// docCellText is a table cell's text in lower case, without emphasis.
func docCellText(cell string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(cell), "*_`"))
}

// docConfigEnv returns the environment variables config.Load reads.
func docConfigEnv(t *testing.T) map[string]bool {
	t.Helper()
	read := map[string]bool{}
	getenv := func(name string) string {
		read[name] = true
		return ""
	}
	if _, err := config.Load(nil, getenv, io.Discard); err != nil {
		t.Fatalf("config.Load with no flags and no environment: %v", err)
	}
	if !read["CONNECTBOOK_ADDR"] {
		t.Fatalf("config.Load read %v, not CONNECTBOOK_ADDR", docSortedKeys(read))
	}
	return read
}

func docHasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

func docSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
