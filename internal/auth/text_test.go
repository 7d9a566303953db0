package auth

import (
	"strings"
	"testing"
)

// Display names and bios refuse characters that change what people read
// without being seen: bidi overrides and isolates, zero-width spaces and
// other format characters, blank-rendering letters. Emoji sequences with
// the zero-width joiner are fine.
func TestInvisibleCharacters(t *testing.T) {
	for _, s := range []string{
		"evil\u202Etxt.exe", "a\u202Db", "a\u2066b\u2069", "a\u200Eb", "a\u200Fb", "a\u061Cb",
		"ad\u200Bmin", "a\u2060b", "\uFEFFadmin", "soft\u00ADhyphen", "a\u3164b", "a\u115Fb", "a\u2800b",
	} {
		if _, err := CheckDisplayName(s); err == nil || !strings.Contains(err.Error(), "invisible") {
			t.Errorf("CheckDisplayName(%+q) = %v, want refused as invisible", s, err)
		}
		if _, err := CheckBio("line\n" + s); err == nil {
			t.Errorf("CheckBio(%+q) accepted", s)
		}
		if p := Printable(s); p == s || strings.ContainsFunc(p, Invisible) {
			t.Errorf("Printable(%+q) = %+q", s, p)
		}
	}
	for _, s := range []string{"Zoë Ångström", "👨\u200d👩\u200d👧 family", "李小龍", "مرحبا", "a—b «c»"} {
		if got, err := CheckDisplayName(s); err != nil || got != s {
			t.Errorf("CheckDisplayName(%+q) = %q, %v; want accepted", s, got, err)
		}
		if p := Printable(s); p != s {
			t.Errorf("Printable(%+q) = %+q, want unchanged", s, p)
		}
	}
}
