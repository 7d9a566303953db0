package lab

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const banner = "Deliberately vulnerable — loopback only"

// wantLabPage checks the marks every lab page carries.
func wantLabPage(t *testing.T, what string, r result) {
	t.Helper()
	for _, want := range []string{
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		banner,
		`<a href="/walkthrough">`,
		`<link rel="stylesheet" href="/static/style.css">`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("%s (status %d) lacks %s", what, r.status, want)
		}
	}
	if strings.Contains(strings.ToLower(r.body), "<script") {
		t.Errorf("%s has a script", what)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
}

// Every page of every variant, error pages included, has the viewport
// meta tag, the banner and the stylesheet.
func TestEveryPageHasBanner(t *testing.T) {
	for _, v := range Variants {
		t.Run(v, func(t *testing.T) {
			l := start(t, v)
			c := l.login("/login", "")
			type req struct {
				method, path, cookie string
				form                 url.Values
				status               int
			}
			reqs := []req{
				{"GET", "/", "", nil, 200},
				{"GET", "/login", "", nil, 200},
				{"GET", "/profile", c, nil, 200},
				{"POST", "/login", "", creds("alice", "wrong"), 200},
				{"POST", "/login", "", url.Values{"password": {strings.Repeat("x", 1<<20)}}, 400},
				{"GET", "/no-such-page", "", nil, 404},
				{"GET", "/static/nope.css", "", nil, 404},
				{"PUT", "/login", "", nil, 405},
				{"GET", "/walkthrough", "", nil, 200},
				{"POST", "/walkthrough/step", "", url.Values{"step": {"1"}}, 200},
				{"POST", "/walkthrough/step", "", url.Values{"step": {"9"}}, 400},
				{"POST", "/walkthrough/connectbook", "", url.Values{}, 200},
			}
			switch v {
			case "seed1":
				reqs = append(reqs, req{"GET", "/set_session/a%20b", "", nil, 400},
					req{"GET", "/congrats", "", nil, 200})
			case "seed2":
				l.login("/login", "555555")
				l.get("/set_congrats", "555555")
				reqs = append(reqs, req{"GET", "/congratulations", "555555", nil, 200})
			}
			for _, q := range reqs {
				r := l.do(q.method, q.path, q.cookie, q.form)
				what := q.method + " " + q.path
				if r.status != q.status {
					t.Errorf("%s: status %d, want %d", what, r.status, q.status)
				}
				wantLabPage(t, what, r)
			}
			if r := l.do("PUT", "/login", "", nil); r.header.Get("Allow") == "" {
				t.Error("405 page lost the Allow header")
			}
			for _, f := range []string{"style.css", "lab.css"} {
				if r := l.get("/static/"+f, ""); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") {
					t.Errorf("GET /static/%s: status %d, Content-Type %q", f, r.status, r.header.Get("Content-Type"))
				}
			}
		})
	}
}

var (
	hiddenID = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]*)">`)
	verdicts = regexp.MustCompile(`<p class="verdict( bad| good)?" role="status">`)
	tokenRe  = regexp.MustCompile(`The victim&#39;s token after signing in</dt><dd><code>([^<]*)</code>`)
)

// post submits a walkthrough form as the browser would: same origin.
func (l *lab) post(path string, form url.Values) result {
	l.t.Helper()
	return l.do("POST", path, "", form)
}

// walk runs a variant's part 1 through HTTP and returns the id the steps
// carried and the last page.
func walk(t *testing.T, l *lab) (string, result) {
	t.Helper()
	n := len(lessons(l.variant, cookieNames[l.variant]).Steps)
	id := ""
	var r result
	for step := 1; step <= n; step++ {
		r = l.post("/walkthrough/step", url.Values{"step": {strconv.Itoa(step)}, "id": {id}})
		if r.status != http.StatusOK {
			t.Fatalf("step %d: status %d", step, r.status)
		}
		m := hiddenID.FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("step %d: no id carried to the next step", step)
		}
		id = html.UnescapeString(m[1])
		if step < n && !strings.Contains(r.body, `<input type="hidden" name="step" value="`+strconv.Itoa(step+1)+`">`) {
			t.Fatalf("step %d: no button for step %d", step, step+1)
		}
	}
	return id, r
}

// Part 1 really signs the attacker in as alice, and part 2, run against
// the session package, really fails at every step.
func TestWalkthrough(t *testing.T) {
	for _, v := range Variants {
		t.Run(v, func(t *testing.T) {
			l := start(t, v)
			if r := l.get("/walkthrough", ""); !strings.Contains(r.body, `<input type="hidden" name="step" value="1">`) {
				t.Fatal("the walkthrough has no button for step 1")
			}
			id, last := walk(t, l)
			if id == "" {
				t.Fatal("no id")
			}
			if !strings.Contains(last.body, `<span class="who attacker">Attacker</span> <code>GET /profile`) ||
				!strings.Contains(last.body, `the profile page: &#34;Welcome, alice!&#34;`) ||
				!strings.Contains(last.body, `<p class="verdict bad" role="status">The attacker&#39;s page says “Welcome, alice!”`) {
				t.Fatalf("the attacker's view is not alice's profile:\n%s", last.body)
			}
			// The id the page carried really is alice's session on the variant.
			if v == "seed2" {
				l.wantWelcome("/profile?session_id="+url.QueryEscape(id), "", "alice")
			} else {
				l.wantWelcome("/profile", id, "alice")
			}

			// Part 2 plants an id of the test's own, run twice.
			planted := "test-" + randomID()[:16]
			if v == "stateless" || v == "laxcookie" {
				planted = id
			}
			var tokens []string
			for range 2 {
				r := l.post("/walkthrough/connectbook", url.Values{"id": {planted}, "done": {"1"}})
				if r.status != http.StatusOK {
					t.Fatalf("connectbook: status %d", r.status)
				}
				part2 := r.body[strings.Index(r.body, `id="part2"`):]
				vs := verdicts.FindAllStringSubmatch(part2, -1)
				if want := len(lessons(v, cookieNames[v]).Steps); len(vs) != want {
					t.Fatalf("part 2 has %d verdicts, want one per step (%d)", len(vs), want)
				}
				for _, m := range vs {
					if m[1] == " bad" {
						t.Errorf("part 2 has an attack that worked:\n%s", part2)
					}
				}
				if !strings.Contains(part2, `<p class="verdict good" role="status">The attacker gets the sign-in page`) ||
					!strings.Contains(part2, "a redirect to the sign-in page: not signed in") {
					t.Errorf("part 2: the attacker's view is not the sign-in page:\n%s", part2)
				}
				if !strings.Contains(part2, "Why it fails") {
					t.Error("part 2 does not say why")
				}
				switch v {
				case "seed1", "seed2", "adopt":
					m := tokenRe.FindStringSubmatch(part2)
					if m == nil {
						t.Fatalf("part 2 shows no token:\n%s", part2)
					}
					if m[1] == planted || len(m[1]) != 43 {
						t.Errorf("token after sign-in %q, planted %q: want a new 43-character token", m[1], planted)
					}
					tokens = append(tokens, m[1])
					if !strings.Contains(part2, "__Host-cb_session="+planted) ||
						!strings.Contains(part2, "Reported: session_foreign_token") ||
						!strings.Contains(part2, "Reported: session_unknown_token") {
						t.Errorf("part 2 did not plant %q, or the session package did not report it:\n%s", planted, part2)
					}
				case "stateless":
					if !strings.Contains(part2, "Reported: session_ended_token") || !strings.Contains(part2, "Clear-Site-Data") && !strings.Contains(part2, "Max-Age=0") {
						t.Errorf("part 2: the replay was not refused as an ended session:\n%s", part2)
					}
				case "laxcookie":
					if !strings.Contains(part2, "<dt>HttpOnly</dt><dd><code>set</code></dd>") ||
						!strings.Contains(part2, "<dt>document.cookie on any page of the site</dt><dd><code>(empty)</code></dd>") {
						t.Errorf("part 2: the cookie is readable by scripts:\n%s", part2)
					}
				}
			}
			if len(tokens) == 2 && tokens[0] == tokens[1] {
				t.Errorf("two runs gave the same token %q: not a real run", tokens[0])
			}
		})
	}
}

// The walkthrough's buttons refuse other sites, and bad forms get a 4xx
// page, never a 5xx.
func TestWalkthroughRefuses(t *testing.T) {
	l := start(t, "seed1")
	req, _ := http.NewRequest("POST", l.base+"/walkthrough/step", strings.NewReader("step=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := l.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: status %d, want 403", res.StatusCode)
	}
	for _, f := range []url.Values{
		{"step": {"0"}},
		{"step": {"x"}},
		{"step": {"2"}},
		{"step": {"2"}, "id": {"a b"}},
		{"step": {"3"}, "id": {strings.Repeat("a", maxID+1)}},
	} {
		if r := l.post("/walkthrough/step", f); r.status != http.StatusBadRequest {
			t.Errorf("POST %v: status %d, want 400", f, r.status)
		}
	}
	if r := l.post("/walkthrough/connectbook", url.Values{"id": {"a;b"}}); r.status != http.StatusBadRequest {
		t.Errorf("connectbook with a bad id: status %d, want 400", r.status)
	}
}

// A full house of ConnectBook runs answers 503 at once instead of queueing.
func TestConnectBookBusy(t *testing.T) {
	a := &app{cbSlots: make(chan struct{}, 1)}
	a.cbSlots <- struct{}{}
	if err := a.withConnectBook(t.Context(), func(*cbEnv) { t.Error("ran while busy") }); err != errBusy {
		t.Fatalf("err %v, want errBusy", err)
	}
}
