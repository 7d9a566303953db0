package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/connectbook/connectbook/internal/config"
)

// help is a command's help: its usage lines, shown alone after a misuse,
// and what it does, shown with the flags by "connectbook help <name>" and
// "-h".
type help struct {
	name     string   // the command, as "connectbook help" takes it
	synopsis []string // usage lines, each starting "connectbook"
	about    string   // paragraphs, each line ending in a newline
}

// short is the usage shown after a misuse.
func (h *help) short() string {
	var b strings.Builder
	b.WriteString("Usage:\n")
	for _, line := range h.synopsis {
		b.WriteString("  " + line + "\n")
	}
	fmt.Fprintf(&b, "Run \"connectbook help %s\" for more, and every flag.\n", h.name)
	return b.String()
}

// full is the whole help: usage, what the command does, and fs's flags.
func (h *help) full(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString("Usage:\n")
	for _, line := range h.synopsis {
		b.WriteString("  " + line + "\n")
	}
	if h.about != "" {
		b.WriteString("\n" + h.about)
	}
	if fs != nil {
		var n int
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			b.WriteString("\nFlags:\n")
			writeFlags(&b, fs)
		}
	}
	return b.String()
}

// writeFlags writes fs's flags as the flag package's PrintDefaults does,
// but spelled as the usage lines spell them (--name) and with passwords
// in URL defaults (taken from the environment) hidden.
func writeFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		fmt.Fprintf(w, "%s\n        %s", line, strings.ReplaceAll(usage, "\n", "\n        "))
		switch def := config.RedactURL(f.DefValue); {
		case def == "" || def == "0" || def == "false" || def == "0s":
		case kind == "string":
			fmt.Fprintf(w, " (default %q)", def)
		default:
			fmt.Fprintf(w, " (default %s)", def)
		}
		fmt.Fprintln(w)
	})
}

// flags is a command's flag set. It prints nothing itself: parse reports
// a misuse in one line followed by the command's short usage, and help in
// full on standard output.
type flags struct {
	*flag.FlagSet
	cmd  string // as errors name the command: "events", "user add"
	help *help
}

func newFlags(cmd string, h *help) *flags {
	return wrapFlags(flag.NewFlagSet(cmd, flag.ContinueOnError), cmd, h)
}

// wrapFlags makes fs, made elsewhere, report as newFlags does.
func wrapFlags(fs *flag.FlagSet, cmd string, h *help) *flags {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flags{FlagSet: fs, cmd: cmd, help: h}
}

// parse parses args, flags and arguments in any order, leaving the
// arguments in f.Args(). It reports an exit code when the command should
// stop: 0 after printing help, 2 after a misuse.
func (f *flags) parse(args []string, stdout, stderr io.Writer) (int, bool) {
	var positional []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, f.help.full(f.FlagSet))
				return 0, true
			}
			return f.misuse(stderr, "%s", flagError(f.FlagSet, err)), true
		}
		if f.NArg() == 0 {
			break
		}
		positional = append(positional, f.Arg(0))
		args = f.Args()[1:]
	}
	f.Parse(append([]string{"--"}, positional...))
	return 0, false
}

// misuse reports a command used wrongly, in one line, and its short usage;
// it returns the exit code of a misuse.
func (f *flags) misuse(stderr io.Writer, format string, args ...any) int {
	return misuse(stderr, f.cmd, f.help, format, args...)
}

func misuse(stderr io.Writer, cmd string, h *help, format string, args ...any) int {
	fmt.Fprintf(stderr, "connectbook %s: %s\n%s", cmd, fmt.Sprintf(format, args...), h.short())
	return 2
}

// The flag package's errors, to be said the way the usage lines say flags.
var (
	undefinedFlag = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	missingValue  = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
	badValue      = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-+([^:]*): (.*)$`)
)

// flagError words an error of fs.Parse.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if m := undefinedFlag.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown flag --%s", m[1])
	}
	if m := missingValue.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("--%s needs a value", m[1])
	}
	m := badValue.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	value, name, why := m[1], m[2], m[3]
	if fl := fs.Lookup(name); fl != nil && (why == "parse error" || why == "value out of range") {
		switch kind, _ := flag.UnquoteUsage(fl); {
		case kind == "":
			why = "want true or false"
		case kind == "int" || kind == "uint":
			why = "want a whole number"
		case kind == "duration":
			why = "want a duration such as 90s, 30m or 12h"
		case kind == "float":
			why = "want a number"
		}
	}
	return fmt.Sprintf("--%s %q: %s", name, value, why)
}
