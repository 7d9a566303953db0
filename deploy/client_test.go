//go:build linux

package deploy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// sessionCookie is ConnectBook's session cookie.
const sessionCookie = "__Host-cb_session"

// newClient returns an HTTP client whose connections come from the
// loopback address from (127.0.0.N: nginx sees it as the client's
// address), trusting roots for HTTPS, and following no redirects.
func newClient(from string, roots *x509.CertPool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:       d.DialContext,
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			ForceAttemptHTTP2: true,
			MaxIdleConns:      10,
			IdleConnTimeout:   30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

// browser is one person's browser: its cookies, kept by hand so that
// they can be sent to an instance directly over plain HTTP too (a cookie
// jar keeps Secure cookies to HTTPS), and its User-Agent.
type browser struct {
	client  *http.Client
	cookies map[string]string
	ua      string
}

// userAgent is the browsers' User-Agent: a session used by another
// browser would be ended as stolen.
const userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"

func newBrowser(from string, roots *x509.CertPool) *browser {
	return &browser{client: newClient(from, roots), cookies: map[string]string{}, ua: userAgent}
}

// page is a response, read whole.
type page struct {
	status int
	proto  string
	header http.Header
	body   string
}

func (p page) location() string { return p.header.Get("Location") }

func (p page) String() string {
	body := p.body
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	return fmt.Sprintf("%d %q %q", p.status, p.location(), body)
}

// do sends a request to base+path (a form is POSTed) with the browser's
// cookies and extra headers, and keeps the cookies the answer sets.
func (b *browser) do(ctx context.Context, method, base, path string, form url.Values, header http.Header) (page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return page{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", b.ua)
	for name, value := range b.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return page{}, err
	}
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || !c.Expires.IsZero() && c.Expires.Before(time.Now()) {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return page{status: resp.StatusCode, proto: resp.Proto, header: resp.Header, body: string(data)}, nil
}

func (b *browser) get(base, path string) (page, error) {
	return b.do(context.Background(), http.MethodGet, base, path, nil, nil)
}

func (b *browser) post(base, path string, form url.Values) (page, error) {
	return b.do(context.Background(), http.MethodPost, base, path, form, nil)
}

// signUp creates an account and leaves the browser signed in to it.
func (b *browser) signUp(base, username string) (page, error) {
	pw := password(username)
	return b.post(base, "/signup", url.Values{"username": {username}, "password": {pw}, "password_confirm": {pw}})
}

// signedUp reports whether a sign-up's answer says it was done.
func signedUp(p page) bool { return p.status == http.StatusSeeOther && p.location() == "/profile" }

// password is the test's password for a username.
func password(username string) string { return "quite a long pass phrase for " + username }

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfToken reads the session's form token from a page of base.
func (b *browser) csrfToken(base, path string) (string, error) {
	p, err := b.get(base, path)
	if err != nil {
		return "", err
	}
	m := csrfRE.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		return "", fmt.Errorf("GET %s: no form token in %v", path, p)
	}
	return m[1], nil
}

// signOut signs out through base's sign-out form.
func (b *browser) signOut(base string) error {
	token, err := b.csrfToken(base, "/logout")
	if err != nil {
		return err
	}
	p, err := b.post(base, "/logout", url.Values{"csrf_token": {token}})
	if err != nil {
		return err
	}
	if p.status != http.StatusSeeOther || b.cookies[sessionCookie] != "" {
		return fmt.Errorf("POST /logout: %v, session cookie left %q", p, b.cookies[sessionCookie])
	}
	return nil
}
