package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// maxBody bounds how much of a response the probe reads.
const maxBody = 1 << 20

// maxRedirects bounds how many redirects one step follows.
const maxRedirects = 5

// jar holds one simulated browser's cookies for the target. Unlike
// net/http/cookiejar it sends Secure cookies over plain HTTP too (browsers
// do so for localhost) and keeps the order cookies were set in, so that
// evidence reads the same on every run.
type jar struct{ cookies []*http.Cookie }

func newJar(cs ...*http.Cookie) *jar {
	j := &jar{}
	for _, c := range cs {
		j.set(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return j
}

func (j *jar) get(name string) (string, bool) {
	for _, c := range j.cookies {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}

// set stores c, or deletes the cookie if c expires it.
func (j *jar) set(c *http.Cookie) {
	if len(c.Name)+len(c.Value) > maxCookie {
		return
	}
	j.cookies = slices.DeleteFunc(j.cookies, func(o *http.Cookie) bool { return o.Name == c.Name })
	if c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) || c.Value == "" {
		return
	}
	j.cookies = append(j.cookies, &http.Cookie{Name: c.Name, Value: c.Value})
}

func (j *jar) header() string {
	parts := make([]string, len(j.cookies))
	for i, c := range j.cookies {
		parts[i] = c.Name + "=" + c.Value
	}
	return strings.Join(parts, "; ")
}

// response is the end of one step: the last response after redirects.
type response struct {
	first int // the status of the first hop, before redirects
	// firstTo is where the first hop redirected to (nil if it did not).
	firstTo *url.URL
	// firstSetCookies are the Set-Cookie lines of the first hop.
	firstSetCookies []string
	status          int
	url             *url.URL
	body            string
	// setCookies are the Set-Cookie lines of every hop, in order.
	setCookies []string
	// registrations are the Secure-Session-Registration headers (Device
	// Bound Session Credentials) of every hop.
	registrations []string
	steps         []Step
}

// ErrBudget is returned when the probe has used all the requests it may send.
var ErrBudget = errors.New("the request budget is used up (raise MaxRequests)")

// errOffSite refuses a request to another host than the target's: the
// probe's cookies are the target's, and so is its permission to test.
var errOffSite = errors.New("not on the target's host")

// maxCookie is the largest cookie the jar keeps, as in browsers.
const maxCookie = 4096

type client struct {
	hc       *http.Client
	base     *url.URL
	budget   int
	sent     int
	interval time.Duration
	last     time.Time
	secrets  map[string]bool // passwords, masked in evidence
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
}

// sleep waits for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// do sends one request with j's cookies, follows same-host redirects and
// stores every Set-Cookie in j.
func (c *client) do(ctx context.Context, method string, u *url.URL, form url.Values, j *jar) (*response, error) {
	res := &response{}
	if u.Host != c.base.Host || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%s: %w", u.Redacted(), errOffSite)
	}
	for hop := 0; ; hop++ {
		if c.sent >= c.budget {
			return nil, ErrBudget
		}
		if wait := c.interval - c.now().Sub(c.last); c.interval > 0 && wait > 0 {
			if err := c.sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", "connectbook-probe/1")
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if h := j.header(); h != "" {
			req.Header.Set("Cookie", h)
		}
		c.sent++
		c.last = c.now()
		resp, err := c.hc.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				ue.URL = c.maskURL(req.URL).Redacted()
			}
			return nil, err
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", u.Redacted(), err)
		}
		lines := resp.Header.Values("Set-Cookie")
		for _, line := range lines {
			if ck, err := http.ParseSetCookie(line); err == nil {
				j.set(ck)
			}
		}
		res.status, res.url, res.body = resp.StatusCode, u, string(raw)
		if hop == 0 {
			res.first, res.firstSetCookies = resp.StatusCode, lines
			if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
				res.firstTo, _ = u.Parse(loc)
			}
		}
		res.setCookies = append(res.setCookies, lines...)
		res.registrations = append(res.registrations, resp.Header.Values("Secure-Session-Registration")...)
		res.steps = append(res.steps, Step{Request: c.describeRequest(req, form), Response: c.describeResponse(resp)})

		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" || hop == maxRedirects {
			return res, nil
		}
		next, err := u.Parse(loc)
		if err != nil || next.Host != c.base.Host || (next.Scheme != "http" && next.Scheme != "https") {
			return res, nil // not followed: another site, or nonsense
		}
		if resp.StatusCode != http.StatusTemporaryRedirect && resp.StatusCode != http.StatusPermanentRedirect {
			method, form = http.MethodGet, nil
		}
		u = next
	}
}

// describeRequest renders what the evidence shows of a request: its line,
// its cookies and its form, with the password masked.
func (c *client) describeRequest(req *http.Request, form url.Values) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", req.Method, c.maskURL(req.URL).RequestURI())
	if h := req.Header.Get("Cookie"); h != "" {
		fmt.Fprintf(&b, "\nCookie: %s", h)
	}
	if form != nil {
		fmt.Fprintf(&b, "\n\n%s", c.mask(form))
	}
	return b.String()
}

// maskURL is u with any password in its query masked.
func (c *client) maskURL(u *url.URL) *url.URL {
	v := *u
	if q := v.Query(); c.hasSecret(q) {
		v.RawQuery = c.mask(q)
	}
	return &v
}

func (c *client) hasSecret(v url.Values) bool {
	for _, vs := range v {
		for _, val := range vs {
			if c.secrets[val] {
				return true
			}
		}
	}
	return false
}

// mask encodes v with every password shown as asterisks, written out
// rather than percent-encoded so that a reader sees it was masked.
func (c *client) mask(v url.Values) string {
	const placeholder = "\x00masked\x00"
	masked := url.Values{}
	for k, vs := range v {
		for _, val := range vs {
			if c.secrets[val] {
				val = placeholder
			}
			masked.Add(k, val)
		}
	}
	return strings.ReplaceAll(masked.Encode(), url.QueryEscape(placeholder), "********")
}

func (c *client) describeResponse(resp *http.Response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", resp.Status)
	if loc := resp.Header.Get("Location"); loc != "" {
		if u, err := url.Parse(loc); err == nil && c.hasSecret(u.Query()) {
			loc = c.maskURL(u).String()
		}
		fmt.Fprintf(&b, "\nLocation: %s", loc)
	}
	for _, sc := range resp.Header.Values("Set-Cookie") {
		fmt.Fprintf(&b, "\nSet-Cookie: %s", sc)
	}
	return b.String()
}
