package probe

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for a person to read.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Session probe of %s (%d requests)\n\n", r.Target, r.Requests)
	if len(r.Findings) == 0 {
		b.WriteString("No findings: none of the attacks worked.\n")
	} else {
		fmt.Fprintf(&b, "%d finding(s):\n", len(r.Findings))
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "  [%s] %s\n", strings.ToUpper(f.Severity), f.ID)
		}
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n== [%s] %s: %s\n", strings.ToUpper(f.Severity), f.ID, f.Title)
		if f.Detail != "" {
			fmt.Fprintf(&b, "\n%s.\n", f.Detail)
		}
		b.WriteString("\nEvidence:\n")
		for _, s := range f.Evidence {
			if s.Note != "" {
				fmt.Fprintf(&b, "\n  %s\n", s.Note)
			}
			writeIndented(&b, "    > ", s.Request)
			writeIndented(&b, "    < ", s.Response)
		}
		fmt.Fprintf(&b, "\nFix: %s\n", f.Fix)
	}
	if r.DeviceBound.Offered {
		fmt.Fprintf(&b, "\nDevice Bound Session Credentials: offered at sign-in (%s", strings.Join(r.DeviceBound.Algorithms, ", "))
		if r.DeviceBound.Registration != "" {
			fmt.Fprintf(&b, "; registration at %s", r.DeviceBound.Registration)
		}
		b.WriteString("): in browsers that support them, a copied session cookie stops working away from the device.\n")
	} else {
		b.WriteString("\nDevice Bound Session Credentials: not offered at sign-in (for information: a copied session cookie works on any device until the session ends).\n")
	}
	if r.LeftSignedIn > 0 {
		fmt.Fprintf(&b, "\n%d of the sessions the probe opened could not be logged out; they end with the site's timeouts.\n", r.LeftSignedIn)
	}
	if len(r.Skipped) > 0 {
		b.WriteString("\nNot checked:\n")
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "  - %s\n", s)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeIndented(b *strings.Builder, prefix, text string) {
	for line := range strings.SplitSeq(text, "\n") {
		b.WriteString(strings.TrimRight(prefix+line, " "))
		b.WriteByte('\n')
	}
}
