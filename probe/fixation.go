package probe

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// The fixation phase: ids planted before login, ids issued before login,
// and sessions read from the URL.

// plant makes an id shaped like the site's own, that the site never
// issued. With a sample of the site's tokens of like's length, it keeps
// what the sample shares (prefixes, suffixes, separators, version digits)
// and draws every position that varies from the alphabet of the varying
// part. Otherwise each letter or digit of like becomes a random one of its
// kind (within a-f for hex), and other characters and %XX escapes stay.
func plant(like string, sample []string) string {
	if strings.IndexFunc(like, func(r rune) bool { return r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) }) < 0 {
		like = "probe00000000000000000000000000" // nothing to imitate
	}
	a := analyzeTokens(sample)
	alphabet := ""
	for _, al := range alphabets {
		if al.name == a.Alphabet {
			alphabet = strings.TrimRight(al.chars, "=")
		}
	}
	// A sample whose values are all the same (records signed in the same
	// second) shows nothing that varies: imitate like itself then.
	useSample := len(sample) > 1 && a.MinLen == len(like) && a.MaxLen == len(like) && alphabet != "" &&
		slices.Contains(a.varies, true)
	kind, _ := alphabetOf([]string{like})
	lower, upper := "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	switch kind {
	case "lowercase hex":
		lower = "abcdef"
	case "uppercase hex":
		upper = "ABCDEF"
	}
	for {
		b := []byte(like)
		r := make([]byte, len(b))
		rand.Read(r)
		for i := 0; i < len(b); i++ {
			c := b[i]
			var set string
			switch {
			case useSample:
				if !a.varies[i] {
					continue
				}
				set = alphabet
			case c == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]):
				i += 2
				continue
			case c >= '0' && c <= '9':
				set = "0123456789"
			case c >= 'a' && c <= 'z':
				set = lower
			case c >= 'A' && c <= 'Z':
				set = upper
			default:
				continue
			}
			b[i] = set[int(r[i])%len(set)]
		}
		if string(b) != like {
			return string(b)
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (p *prober) checkPreauth(ctx context.Context, s signedIn) (verdict, error) {
	if len(s.pre) == 0 {
		return passed("the login page sets no cookie before login"), nil
	}
	p.progress("checking whether the cookies issued before login work after it")
	ok, res, err := p.isAuthed(ctx, newJar(s.pre...), nil)
	if err != nil || !ok {
		return verdict{}, err
	}
	var before []string
	for _, c := range s.pre {
		before = append(before, c.Name+"="+c.Value)
	}
	return failed(Finding{ID: FixationPreauthID,
		Detail: fmt.Sprintf("the cookies the login page set before login (%s) are logged in once the user logs in", strings.Join(before, "; ")),
		Evidence: append(append(note(append([]Step{}, s.preSteps...), "Before login, the site issues a session:"),
			note(append([]Step{}, s.loginSteps...), "The user logs in carrying it:")...),
			note(res.steps, "The id issued before login now opens the signed-in page:")...)}), nil
}

// checkTokenInURL returns the URL parameter the site reads a session
// from, if any.
func (p *prober) checkTokenInURL(ctx context.Context, s signedIn) (string, verdict, error) {
	p.progress("checking whether a session is accepted from the URL")
	params := append([]string{s.name}, urlParams...)
	seen := map[string]bool{}
	for _, name := range params {
		if seen[name] {
			continue
		}
		seen[name] = true
		ok, res, err := p.isAuthed(ctx, newJar(), url.Values{name: {s.token}})
		if err != nil {
			return "", verdict{}, err
		}
		if ok {
			return name, failed(Finding{ID: TokenInURL,
				Detail:   fmt.Sprintf("the session is read from the URL parameter %q", name),
				Evidence: note(res.steps, "Without any cookie, the session token in the URL opens the signed-in page:")}), nil
		}
	}
	return "", passed(""), nil
}

// checkAdopted plants an id shaped like the site's (imitating sample, the
// fresh tokens) in the session cookie, and in urlParam when the site reads
// sessions from the URL.
func (p *prober) checkAdopted(ctx context.Context, s signedIn, urlParam string, sample []string) (verdict, error) {
	p.progress("planting a session id before the victim logs in")
	var evidence []Step
	var where []string

	id := plant(s.token, sample)
	planted := func(...*http.Cookie) *jar { return newJar(&http.Cookie{Name: s.name, Value: id}) }
	ev, ok, err := p.plantAndLogin(ctx, planted, nil,
		fmt.Sprintf("The victim's browser carries %s=%s, chosen by the attacker, and logs in:", s.name, id))
	if err != nil {
		return verdict{}, err
	}
	if ok {
		where = append(where, fmt.Sprintf("in the %s cookie", s.name))
		evidence = append(evidence, ev...)
	}

	if urlParam != "" {
		id := plant(s.token, sample)
		ev, ok, err := p.plantAndLogin(ctx, newJar, url.Values{urlParam: {id}},
			fmt.Sprintf("The victim follows the attacker's link with %s=%s and logs in:", urlParam, id))
		if err != nil {
			return verdict{}, err
		}
		if ok {
			where = append(where, fmt.Sprintf("in the URL parameter %s", urlParam))
			evidence = append(evidence, ev...)
		}
	}
	if len(where) == 0 {
		return passed(""), nil
	}
	return failed(Finding{ID: FixationAdoptedID,
		Detail:   "an id the attacker chose, " + strings.Join(where, " and ") + ", is logged in after the victim logs in with it",
		Evidence: evidence}), nil
}

// plantAndLogin plays one fixation: browser gives a browser carrying the
// attacker's id, and q the id in the URL. The id must not be signed in
// before the victim logs in with it, and is then tried on its own.
func (p *prober) plantAndLogin(ctx context.Context, browser func(...*http.Cookie) *jar, q url.Values, story string) ([]Step, bool, error) {
	ok, before, err := p.isAuthed(ctx, browser(), q)
	if err != nil || ok {
		return nil, false, err
	}
	victim := browser()
	p.opened = append(p.opened, victim)
	login, err := p.signInWith(ctx, victim, q)
	if err != nil {
		return nil, false, err
	}
	ok, after, err := p.isAuthed(ctx, browser(), q)
	if err != nil || !ok {
		return nil, false, err
	}
	return append(append(note(before.steps, "Before the victim logs in, the attacker's id is not signed in:"),
		note(login.steps, story)...),
		note(after.steps, "The attacker, with only the id they chose, is signed in as the victim:")...), true, nil
}
