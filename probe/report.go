package probe

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// textWidth is where the text report wraps its prose; evidence is shown
// as sent and received, unwrapped.
const textWidth = 88

// WriteText writes the report for a person to read: a summary, the
// findings most severe first, what became of each check, then each
// finding's detail, evidence and fix.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Session probe of %s (%s).\n\n", r.Target, plural(r.Requests, "request"))
	findings := bySeverity(r.Findings)
	if len(findings) == 0 {
		b.WriteString("No findings: none of the attacks worked.\n")
	} else {
		fmt.Fprintf(&b, "%s (%s), most severe first:\n", plural(len(findings), "finding"), severityCounts(findings))
		for _, f := range findings {
			fmt.Fprintf(&b, "  [%s] %s: %s.\n", strings.ToUpper(f.Severity), f.ID, f.Title)
		}
	}
	if len(r.Checks) > 0 {
		fmt.Fprintf(&b, "\nChecks, in the order they ran (%s):\n", outcomeCounts(r.Checks))
		width := 0
		for _, c := range r.Checks {
			width = max(width, len(c.ID))
		}
		for _, c := range r.Checks {
			text := capitalise(c.Outcome) + "."
			if c.Why != "" {
				text = capitalise(c.Outcome) + ": " + sentence(c.Why)
			}
			wrap(&b, fmt.Sprintf("  %-*s  ", width, c.ID), text, strings.Repeat(" ", width+4), textWidth)
		}
	}
	for _, f := range findings {
		fmt.Fprintf(&b, "\n== [%s] %s: %s\n", strings.ToUpper(f.Severity), f.ID, f.Title)
		if f.Detail != "" {
			b.WriteByte('\n')
			wrap(&b, "", sentence(f.Detail), "", textWidth)
		}
		b.WriteString("\nEvidence:\n")
		for _, s := range f.Evidence {
			if s.Note != "" {
				b.WriteByte('\n')
				wrap(&b, "  ", capitalise(s.Note), "  ", textWidth)
			}
			writeIndented(&b, "    > ", s.Request)
			writeIndented(&b, "    < ", s.Response)
		}
		b.WriteByte('\n')
		wrap(&b, "Fix: ", sentence(f.Fix), "     ", textWidth)
		if refs := references(f.ID); len(refs) > 0 {
			names := make([]string, len(refs))
			for i, ref := range refs {
				names[i] = ref.Name
			}
			wrap(&b, "See: ", strings.Join(names, ", ")+".", "     ", textWidth)
		}
	}
	b.WriteByte('\n')
	if r.DeviceBound.Offered {
		line := fmt.Sprintf("Device Bound Session Credentials: offered at sign-in (%s", strings.Join(r.DeviceBound.Algorithms, ", "))
		if r.DeviceBound.Registration != "" {
			line += fmt.Sprintf("; registration at %s", r.DeviceBound.Registration)
		}
		wrap(&b, "", line+"): in browsers that support them, a copied session cookie stops working away from the device.", "", textWidth)
	} else {
		wrap(&b, "", "Device Bound Session Credentials: not offered at sign-in (for information: a copied session cookie works on any device until the session ends).", "", textWidth)
	}
	if r.TokenTests != "" {
		b.WriteByte('\n')
		wrap(&b, "Token sample: ", r.TokenTests, "", textWidth)
	}
	if r.LoginPage != "" {
		b.WriteByte('\n')
		wrap(&b, "", fmt.Sprintf("The login path showed no login form; the probe found one at %s.", r.LoginPage), "", textWidth)
	}
	if r.LeftSignedIn > 0 {
		b.WriteByte('\n')
		wrap(&b, "", fmt.Sprintf("%s the probe opened could not be logged out (%s); they end with the site's timeouts.",
			capitalise(plural(r.LeftSignedIn, "session")), r.LeftSignedInWhy), "", textWidth)
	}
	if len(r.Skipped) > 0 && len(r.Checks) == 0 {
		// Reports from before the list of checks say only this.
		b.WriteString("\nNot checked:\n")
		for _, s := range r.Skipped {
			wrap(&b, "  - ", skippedSentence(s), "    ", textWidth)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// plural counts n things: "1 finding", "4 findings".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// severityCounts says how many findings there are of each severity:
// "2 high, 1 low".
func severityCounts(fs []Finding) string {
	var parts []string
	for _, s := range append(severities, "") {
		n := 0
		for _, f := range fs {
			if s == f.Severity || (s == "" && severityRank(f.Severity) == len(severities)) {
				n++
			}
		}
		if n > 0 && s != "" {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		} else if n > 0 {
			parts = append(parts, fmt.Sprintf("%d of no known severity", n))
		}
	}
	return strings.Join(parts, ", ")
}

// outcomeCounts says how many checks passed, failed and were skipped.
func outcomeCounts(cs []Check) string {
	var parts []string
	for _, o := range []string{OutcomePassed, OutcomeFailed, OutcomeSkipped} {
		n := 0
		for _, c := range cs {
			if c.Outcome == o {
				n++
			}
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, o))
	}
	return strings.Join(parts, ", ")
}

// capitalise upper-cases the first letter of s.
func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || !unicode.IsLower(r) {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// sentence makes a fragment such as a finding's detail a sentence: a
// capital first and a full stop last.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = capitalise(s)
	if !strings.ContainsAny(s[len(s)-1:], ".!?") {
		s += "."
	}
	return s
}

// skippedSentence writes one of Report.Skipped, "id: why", as
// "id: Why.".
func skippedSentence(s string) string {
	if id, why, ok := strings.Cut(s, ": "); ok && !strings.Contains(id, " ") {
		return id + ": " + sentence(why)
	}
	return sentence(s)
}

// wrap writes prefix as it is, then the words of text in lines of at
// most width columns where the words allow, every line after the first
// starting with indent.
func wrap(b *strings.Builder, prefix, text, indent string, width int) {
	b.WriteString(prefix)
	col := utf8.RuneCountInString(prefix)
	start := col
	for word := range strings.FieldsSeq(text) {
		n := utf8.RuneCountInString(word)
		switch {
		case col == start:
		case col+1+n > width:
			b.WriteByte('\n')
			b.WriteString(indent)
			col = utf8.RuneCountInString(indent)
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += n
	}
	b.WriteByte('\n')
}

func writeIndented(b *strings.Builder, prefix, text string) {
	for line := range strings.SplitSeq(text, "\n") {
		b.WriteString(strings.TrimRight(prefix+line, " "))
		b.WriteByte('\n')
	}
}
