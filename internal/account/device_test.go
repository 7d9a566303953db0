package account

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct{ ua, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Linux"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0", "Edge on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on macOS"},
		{"curl/8.5.0", "Unknown browser"},
		{"Call-555-0100-for-help/1.0", "Unknown browser"}, // never the client's own words
		{"", "Unknown browser"},
		{"\x01\x02/3", "Unknown browser"},
		{"Mozilla/5.0", "Unknown browser"},
	} {
		// Parsed, then remembered: the same both times.
		for round := range 2 {
			if got := ParseDevice(tc.ua).Label(); got != tc.want {
				t.Errorf("round %d: ParseDevice(%q) = %q, want %q", round, tc.ua, got, tc.want)
			}
		}
	}
}

// What is remembered of User-Agent headers is bounded in number and size.
func TestParseDeviceRemembersBounded(t *testing.T) {
	long := "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 " + strings.Repeat("x", deviceMemoMaxLen)
	if got := ParseDevice(long).Label(); got != "Firefox on Linux" {
		t.Fatalf("a long header: %q", got)
	}
	if _, ok := devices.get(long); ok {
		t.Fatal("a header longer than the bound was remembered")
	}
	for i := range deviceMemoMax + 10 {
		ParseDevice(fmt.Sprintf("agent/%d", i))
		devices.mu.Lock()
		n := len(devices.m)
		devices.mu.Unlock()
		if n > deviceMemoMax {
			t.Fatalf("%d headers remembered", n)
		}
	}
}

func TestClientChanged(t *testing.T) {
	const (
		ff128 = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
		ff131 = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
		ffWin = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
		chLin = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	)
	for _, tc := range []struct{ signedIn, now, want string }{
		{ff128, ff131, ""}, // an update
		{ff128, chLin, "Firefox on Linux became Chrome on Linux"},
		{ff128, ffWin, "Firefox on Linux became Firefox on Windows"},
		{ff128, "curl/8.5.0", "Firefox on Linux became Unknown browser"},
		{ff128, "", "Firefox on Linux became Unknown browser"},
		{"", ff128, ""},                   // nothing known to compare with
		{"Go-http-client/1.1", ff128, ""}, // likewise
	} {
		if got := ClientChanged(tc.signedIn, tc.now); got != tc.want {
			t.Errorf("ClientChanged(%q, %q) = %q, want %q", tc.signedIn, tc.now, got, tc.want)
		}
	}
}
