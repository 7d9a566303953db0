package account

import (
	"strings"
	"sync"

	useragent "github.com/medama-io/go-useragent"
)

// Device is what a User-Agent header says of a browser, for people.
type Device struct {
	Browser string // "Firefox"; "" if unknown
	OS      string // "Linux"; "" if unknown
	Mobile  bool
}

var uaParser = sync.OnceValue(useragent.NewParser)

// ParseDevice reads a User-Agent header with a maintained parser. Only the
// names the parser knows are shown, never text from the header itself: a
// client must not be able to write what a notice tells its victim.
func ParseDevice(ua string) Device {
	if ua == "" {
		return Device{}
	}
	if d, ok := devices.get(ua); ok {
		return d
	}
	p := uaParser().Parse(ua)
	d := Device{Browser: string(p.Browser()), OS: string(p.OS()), Mobile: p.IsMobile() || p.IsTablet()}
	if name, ok := osNames[d.OS]; ok {
		d.OS = name
	}
	devices.put(ua, d)
	return d
}

// devices remembers what recent User-Agent headers said: a session whose
// requests come with another header than it signed in with (a browser
// that updated, a script) has both parsed on every request otherwise.
var devices = deviceMemo{m: make(map[string]Device)}

// Bounds of devices: how many headers, and how long each may be (a longer
// one is parsed every time).
const (
	deviceMemoMax    = 4096
	deviceMemoMaxLen = 512
)

type deviceMemo struct {
	mu sync.Mutex
	m  map[string]Device
}

func (c *deviceMemo) get(ua string) (Device, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.m[ua]
	return d, ok
}

func (c *deviceMemo) put(ua string, d Device) {
	if len(ua) > deviceMemoMaxLen {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= deviceMemoMax {
		clear(c.m) // rare, and cheaper than tracking recency
	}
	c.m[strings.Clone(ua)] = d
}

// ClientChanged says what changed between the User-Agent a session signed
// in with and another one presenting its token, when the browser family
// or the operating system differs ("Firefox on Linux became Chrome on
// Windows"), and "" when it is the same browser (perhaps a newer version)
// or the session's own was too little known to tell. It is the session
// manager's Options.ClientChanged.
func ClientChanged(signedIn, now string) string {
	a, b := ParseDevice(signedIn), ParseDevice(now)
	if a.Browser != "" && a.Browser != b.Browser || a.OS != "" && a.OS != b.OS {
		return a.Label() + " became " + b.Label()
	}
	return ""
}

// osNames spell systems as their makers do.
var osNames = map[string]string{"MacOS": "macOS", "ChromeOS": "ChromeOS"}

// Label is "Firefox on Linux", "Firefox", "Unknown browser on Linux" or
// "Unknown browser".
func (d Device) Label() string {
	b := d.Browser
	if b == "" {
		b = "Unknown browser"
	}
	if d.OS == "" {
		return b
	}
	return b + " on " + d.OS
}

func toValidUTF8(s string) string { return strings.ToValidUTF8(s, "") }
