package cli

import (
	"strings"
	"testing"
)

// What the CLI prints from the database (user agents, event details,
// names) cannot reorder or hide text in the terminal.
func TestClipTextShowsWhatIsThere(t *testing.T) {
	for _, s := range []string{"evil\u202Etxt.exe", "a\x1b[2Jb", "ad\u200Bmin", "a\u2066b", "x\ny"} {
		got := clipText(s, 80)
		if strings.ContainsAny(got, "\u202E\x1b\u200B\u2066\n") {
			t.Errorf("clipText(%+q) = %+q", s, got)
		}
	}
	if got := clipText("Zoë 👨\u200d👩\u200d👧", 80); got != "Zoë 👨\u200d👩\u200d👧" {
		t.Errorf("clipText changed ordinary text: %+q", got)
	}
}
