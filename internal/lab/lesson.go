package lab

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/connectbook/connectbook/session"
)

// fact is one labelled value a step found out.
type fact struct{ Label, Value string }

// outcome is what one step did: the requests it made, what it found out
// and a verdict in words.
type outcome struct {
	Title    string // for the ConnectBook part, whose steps run at once
	Log      []exchange
	Facts    []fact
	Verdict  string
	Hijacked bool // the attack succeeded here
	Held     bool // the defence held here
}

// run is what a step gets: the site to act against, the attacker's id or
// copied cookie so far ("" before the first step) and the address the lab
// is reached at, for links.
type run struct {
	r    *http.Request
	site http.Handler
	id   string
	base string
}

func (rn run) browser(who string, log *[]exchange) *browser {
	return &browser{ctx: rn.r.Context(), h: rn.site, who: who, log: log}
}

// step is one step of a lesson against the variant. It returns its
// outcome and the id the next steps work with.
type step struct {
	Title, Explain, Button string
	run                    func(run) (outcome, string)
}

// lesson is a variant's walkthrough.
type lesson struct {
	Title  string
	Intro  string
	ByHand string // how to do it in a real browser
	Steps  []step
	// connectbook runs the same steps against the session package; id is
	// the attacker's value from the first part, if any.
	connectbook func(e *cbEnv, id string) []outcome
	CBIntro     string
	Why         []string
}

// lessons returns the walkthrough of variant; every variant has one.
func lessons(variant string, cookie string) *lesson {
	switch variant {
	case "seed1":
		return fixation(variant, cookie, "/set_session/")
	case "seed2":
		return fixation(variant, cookie, "/login?session_id=")
	case "adopt":
		return fixation(variant, cookie, "")
	case "stateless":
		return replay(cookie)
	case "laxcookie":
		return laxFlags(cookie)
	}
	return nil
}

var fixationWhy = []string{
	"No sessions before sign-in: ConnectBook hands out no id to anyone who has not signed in, so there is none to obtain or plant in advance.",
	"A new token at sign-in: the session package's Create always issues a fresh 32-byte random token and destroys whatever the browser carried.",
	"Unknown tokens are never adopted (strict mode): a token the store never issued is refused, the cookie cleared, and the sign-in that follows is reported as a foreign token.",
	"The token is read from the cookie only, never from the URL or a form; a session_id parameter is ignored and reported.",
	"The cookie is __Host-cb_session, HttpOnly, Secure and SameSite=Lax: a sibling subdomain or plain-HTTP response cannot set it, and scripts cannot read it.",
}

// fixation is the lesson of the three fixation variants; link is the path
// prefix of the link the victim gets, "" when the id must be planted as a
// cookie.
func fixation(variant, cookie, link string) *lesson {
	l := &lesson{Title: "Session fixation", Why: fixationWhy}
	switch variant {
	case "seed1":
		l.Intro = "This variant hands every visitor an id before sign-in (session1, session2, …), takes any id a link to /set_session/{id} names, and keeps the id when the user signs in. Whoever knows the id before the victim signs in is signed in with them."
		l.ByHand = "Open the victim's link in a private window and sign in as alice there; then, in this window, open /set_session/ with the same id and go to your profile."
	case "seed2":
		l.Intro = "This variant draws a 6-digit id for every visitor before sign-in, also reads the id from the session_id URL parameter, makes a linked id the browser's cookie, and keeps the id when the user signs in."
		l.ByHand = "Open the victim's link in a private window and sign in as alice there; then open /profile?session_id= with the same id in another browser."
	case "adopt":
		l.Intro = "This variant issues strong random ids only at sign-in, with HttpOnly, Secure and SameSite set — but if the browser already carries a SESSIONID cookie when the user signs in, that value becomes the signed-in session's id, even though the server never issued it."
		l.ByHand = "In your browser's developer tools, add a SESSIONID cookie with the planted value for this site, sign in as alice, then send the same cookie from another browser (or curl -b SESSIONID=…) to /profile."
	}
	l.Steps = []step{
		{Title: "The attacker prepares an id", Button: "Prepare an id", run: func(rn run) (outcome, string) {
			var o outcome
			att := rn.browser("Attacker", &o.Log)
			att.get("/")
			id := att.cookie(cookie)
			if id == "" {
				att.get("/login")
				id = att.cookie(cookie)
			}
			if id != "" {
				o.Facts = append(o.Facts, fact{"The server handed the attacker the id", id})
				o.Verdict = "The attacker holds a session id the server will accept, before anyone has signed in."
			} else {
				id = "attacker-" + randomID()[:12]
				o.Facts = append(o.Facts, fact{"No id is handed out before sign-in, so the attacker makes one up", id})
				o.Verdict = "The attacker has chosen an id. The server never issued it, but it will not check."
			}
			if link != "" {
				o.Facts = append(o.Facts, fact{"The link the victim gets", rn.base + link + url.PathEscape(id)})
			} else {
				o.Facts = append(o.Facts, fact{"The cookie planted in the victim's browser", cookie + "=" + id + " (from a sibling subdomain with Domain=, a response injected on plain HTTP, or a script elsewhere on the site)"})
			}
			o.Hijacked = true
			return o, id
		}},
		{Title: "The victim opens the link and signs in as alice", Button: "Play the victim", run: func(rn run) (outcome, string) {
			var o outcome
			vic := rn.browser("Victim", &o.Log)
			switch link {
			case "/set_session/":
				vic.get(link + url.PathEscape(rn.id))
				vic.get("/")
			case "":
				vic.plant(cookie, rn.id)
			}
			if link == "/login?session_id=" {
				vic.get(link + url.QueryEscape(rn.id))
			} else {
				vic.get("/login")
			}
			vic.do(http.MethodPost, "/login", url.Values{"username": {"alice"}, "password": {"password123"}})
			_, body := vic.get("/profile")
			after := vic.cookie(cookie)
			o.Facts = []fact{{"The id the attacker prepared", rn.id}, {"The victim's id after signing in", after}}
			if after == rn.id && signedInAs(body) == "alice" {
				o.Verdict = "alice is signed in — under the very id the attacker prepared. Sign-in did not change it."
				o.Hijacked = true
			} else {
				o.Verdict = "The victim's id is not the attacker's."
			}
			return o, rn.id
		}},
		{Title: "The attacker's view", Explain: "The server fetches the profile page as the attacker: a new browser that holds nothing but the prepared id.", Button: "Fetch the attacker's view", run: func(rn run) (outcome, string) {
			var o outcome
			att := rn.browser("Attacker", &o.Log)
			var body string
			if link == "/login?session_id=" {
				_, body = att.get("/profile?session_id=" + url.QueryEscape(rn.id))
			} else {
				att.plant(cookie, rn.id)
				_, body = att.get("/profile")
			}
			return attackerVerdict(o, body), rn.id
		}},
	}
	l.CBIntro = "The same three steps, run now against a fresh ConnectBook session manager (the session package on a SQLite database of its own). The id the attacker plants is the one from above, if you prepared one."
	l.connectbook = func(e *cbEnv, id string) []outcome {
		var prep, vict, view outcome
		att := e.browser("Attacker", &prep.Log)
		att.get("/")
		att.get("/login")
		got := att.cookie(session.DefaultCookieName)
		prep.Title = "The attacker asks for an id"
		if got != "" {
			id = got
			prep.Facts = append(prep.Facts, fact{"The server handed the attacker the id", got})
		} else {
			prep.Facts = append(prep.Facts, fact{"Ids handed out before sign-in", "none"})
		}
		if id == "" {
			id = randomID()
		}
		prep.Facts = append(prep.Facts, fact{"So the attacker plants an id of their own", session.DefaultCookieName + "=" + id})
		prep.Facts = append(prep.Facts, e.reported()...)
		prep.Verdict = "Nothing to obtain: ConnectBook starts a session only when someone signs in."
		prep.Held = got == ""

		vict.Title = "The victim gets the planted id and signs in as alice"
		vic := e.browser("Victim", &vict.Log)
		vic.plant(session.DefaultCookieName, id)
		if link == "/login?session_id=" {
			vic.get("/login?session_id=" + url.QueryEscape(id))
		} else {
			vic.get("/login")
		}
		vic.do(http.MethodPost, "/login", url.Values{"username": {"alice"}, "password": {"password123"}})
		_, body := vic.get("/profile")
		after := vic.cookie(session.DefaultCookieName)
		vict.Facts = []fact{{"The planted id", id}, {"The victim's token after signing in", after}}
		vict.Facts = append(vict.Facts, e.reported()...)
		if after != id && after != "" && signedInAs(body) == "alice" {
			vict.Verdict = "alice is signed in under a brand-new token; the planted id was refused before she even signed in."
			vict.Held = true
		} else {
			vict.Verdict = "The victim's token is the planted one."
			vict.Hijacked = true
		}

		view.Title = "The attacker's view"
		att = e.browser("Attacker", &view.Log)
		if link == "/login?session_id=" {
			att.get("/profile?session_id=" + url.QueryEscape(id))
		}
		att.plant(session.DefaultCookieName, id)
		_, body = att.get("/profile")
		view = attackerVerdict(view, body)
		view.Facts = append(view.Facts, e.reported()...)
		return []outcome{prep, vict, view}
	}
	return l
}

// attackerVerdict judges the attacker's view of the profile page.
func attackerVerdict(o outcome, body string) outcome {
	if u := signedInAs(body); u != "" {
		o.Verdict = "The attacker's page says “Welcome, " + u + "!”: the attacker is signed in as " + u + " without ever knowing the password."
		o.Hijacked = true
	} else {
		o.Verdict = "The attacker gets the sign-in page: the id they hold signs nobody in."
		o.Held = true
	}
	return o
}

func replay(cookie string) *lesson {
	l := &lesson{
		Title: "Replaying a copied cookie after logout",
		Intro: "This variant keeps the whole session in a signed cookie, as Flask does by default. The server remembers nothing, so logging out can only ask the browser to forget its copy: any other copy of the cookie still works.",
		ByHand: "Sign in as alice, copy the session cookie from the developer tools, log out, then send the copy from another browser " +
			"(or curl -b session=…) to /profile.",
		Why: []string{
			"Sessions live on the server: the cookie holds only a random token, and the store only its SHA-256 hash.",
			"Logout deletes the session server-side (Destroy), expires the cookie and sends Clear-Site-Data; the token is remembered as ended, so a replay is refused and reported.",
			"Idle and absolute timeouts, and revocation from the sessions page, are enforced on the server, whatever copies of the cookie exist.",
			"Rotation with reuse detection ends the whole session when a retired token comes back from a second client.",
		},
		CBIntro: "The same steps against a fresh ConnectBook session manager (the session package on a SQLite database of its own).",
	}
	l.Steps = []step{
		{Title: "The victim signs in; the attacker copies the cookie", Explain: "A shared computer, a proxy log, a backup, malware: however it happens, the attacker ends up with a copy of the cookie.", Button: "Sign in and copy", run: func(rn run) (outcome, string) {
			var o outcome
			vic := rn.browser("Victim", &o.Log)
			vic.do(http.MethodPost, "/login", url.Values{"username": {"alice"}, "password": {"password123"}})
			c := vic.cookie(cookie)
			o.Facts = []fact{{"The attacker's copy", c}}
			if payload, _, ok := strings.Cut(c, "."); ok {
				if raw, err := base64.RawURLEncoding.DecodeString(payload); err == nil {
					o.Facts = append(o.Facts, fact{"What it holds, signed but not encrypted", string(raw)})
				}
			}
			o.Verdict = "The cookie is the whole session: there is nothing on the server to revoke."
			o.Hijacked = c != ""
			return o, c
		}},
		{Title: "The victim logs out", Button: "Log the victim out", run: func(rn run) (outcome, string) {
			var o outcome
			vic := rn.browser("Victim", &o.Log)
			vic.plant(cookie, rn.id)
			vic.get("/logout")
			_, body := vic.get("/profile")
			if signedInAs(body) == "" {
				o.Verdict = "The victim's browser dropped its cookie and is signed out. The server, which never kept the session, had nothing to delete."
			} else {
				o.Verdict = "The victim is still signed in."
			}
			return o, rn.id
		}},
		{Title: "The attacker replays the copy", Explain: "The server fetches the profile page as the attacker: a new browser holding only the copied cookie.", Button: "Fetch the attacker's view", run: func(rn run) (outcome, string) {
			var o outcome
			att := rn.browser("Attacker", &o.Log)
			att.plant(cookie, rn.id)
			_, body := att.get("/profile")
			return attackerVerdict(o, body), rn.id
		}},
	}
	l.connectbook = func(e *cbEnv, _ string) []outcome {
		var in, out, view outcome
		in.Title = "The victim signs in; the attacker copies the cookie"
		vic := e.browser("Victim", &in.Log)
		vic.do(http.MethodPost, "/login", url.Values{"username": {"alice"}, "password": {"password123"}})
		tok := vic.cookie(session.DefaultCookieName)
		in.Facts = append([]fact{{"The attacker's copy", tok}}, e.reported()...)
		in.Verdict = "The cookie holds a random token; the session itself is on the server."

		out.Title = "The victim logs out"
		vic.log = &out.Log
		vic.do(http.MethodPost, "/logout", nil)
		_, body := vic.get("/profile")
		out.Facts = e.reported()
		if signedInAs(body) == "" {
			out.Verdict = "The session is deleted on the server, not just in the victim's browser."
			out.Held = true
		}

		view.Title = "The attacker replays the copy"
		att := e.browser("Attacker", &view.Log)
		att.plant(session.DefaultCookieName, tok)
		_, body = att.get("/profile")
		view = attackerVerdict(view, body)
		view.Facts = append([]fact{{"The replayed token", tok}}, e.reported()...)
		return []outcome{in, out, view}
	}
	return l
}

func laxFlags(cookie string) *lesson {
	l := &lesson{
		Title: "A session cookie without HttpOnly, Secure and SameSite",
		Intro: "This variant's sessions are sound — a new random id at sign-in, server-side logout, timeouts — but its cookie lacks the attributes that keep it out of reach. " +
			"Without HttpOnly any script on the site can read it (one XSS hole is enough to steal every session). Without Secure the browser also sends it over plain HTTP, where anyone on the network can read it. " +
			"Without SameSite, browsers that do not default to Lax send it with requests that other sites start.",
		ByHand: "Sign in as alice, open the developer tools' console on the profile page and type document.cookie: the session id is right there for any script to send away.",
		Why: []string{
			"HttpOnly: document.cookie never shows ConnectBook's session token, so an injected script has nothing to send away.",
			"Secure and the __Host- prefix: the cookie travels over HTTPS only, and only this host can set it (no Domain, Path=/).",
			"SameSite=Lax: the cookie stays home on cross-site POSTs and subrequests, which blunts CSRF.",
			"Even a token stolen some other way dies at logout, at the timeouts, and at the next rotation once the victim's browser presents the new token.",
		},
		CBIntro: "The same steps against a fresh ConnectBook session manager (the session package on a SQLite database of its own).",
	}
	l.Steps = []step{
		{Title: "The victim signs in; a script on the page reads the cookie", Explain: "What document.cookie returns is worked out from the cookie attributes the server really sent.", Button: "Sign in", run: func(rn run) (outcome, string) {
			var o outcome
			vic := rn.browser("Victim", &o.Log)
			ex, _ := vic.do(http.MethodPost, "/login", url.Values{"username": {"alice"}, "password": {"password123"}})
			o.Facts = flagFacts(ex.SetCookie, cookie)
			seen := vic.scriptVisible()
			o.Facts = append(o.Facts, fact{"document.cookie on any page of the site", orNothing(seen)})
			id := ""
			if strings.Contains(seen, cookie+"=") {
				id = vic.cookie(cookie)
				o.Verdict = "An injected script can read the session id and send it to the attacker."
				o.Hijacked = true
			} else {
				o.Verdict = "Scripts cannot read the session id."
			}
			return o, id
		}},
		{Title: "The attacker replays the stolen id", Explain: "The server fetches the profile page as the attacker: a new browser holding only what the script read.", Button: "Fetch the attacker's view", run: func(rn run) (outcome, string) {
			var o outcome
			att := rn.browser("Attacker", &o.Log)
			att.plant(cookie, rn.id)
			_, body := att.get("/profile")
			return attackerVerdict(o, body), rn.id
		}},
	}
	l.connectbook = func(e *cbEnv, _ string) []outcome {
		var in, view outcome
		in.Title = "The victim signs in; a script on the page reads the cookie"
		vic := e.browser("Victim", &in.Log)
		ex, _ := vic.do(http.MethodPost, "/login", url.Values{"username": {"alice"}, "password": {"password123"}})
		in.Facts = flagFacts(ex.SetCookie, session.DefaultCookieName)
		seen := vic.scriptVisible()
		in.Facts = append(in.Facts, fact{"document.cookie on any page of the site", orNothing(seen)})
		if !strings.Contains(seen, session.DefaultCookieName+"=") {
			in.Verdict = "The script sees no session token: the cookie is HttpOnly."
			in.Held = true
		} else {
			in.Verdict = "The script can read the session token."
			in.Hijacked = true
		}

		view.Title = "The attacker replays what the script could read"
		att := e.browser("Attacker", &view.Log)
		for pair := range strings.SplitSeq(seen, "; ") {
			if name, value, ok := strings.Cut(pair, "="); ok {
				att.plant(name, value)
			}
		}
		_, body := att.get("/profile")
		view = attackerVerdict(view, body)
		view.Facts = append(view.Facts, e.reported()...)
		return []outcome{in, view}
	}
	return l
}

func orNothing(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

// flagFacts reads the attributes of the session cookie's Set-Cookie line,
// as sent.
func flagFacts(lines []string, name string) []fact {
	for _, line := range lines {
		if !strings.HasPrefix(line, name+"=") {
			continue
		}
		c, err := http.ParseSetCookie(line)
		if err != nil {
			continue
		}
		yes := func(b bool, missing string) string {
			if b {
				return "set"
			}
			return "missing — " + missing
		}
		same := "missing — the browser's default decides whether other sites' requests carry it"
		switch c.SameSite {
		case http.SameSiteLaxMode:
			same = "Lax"
		case http.SameSiteStrictMode:
			same = "Strict"
		case http.SameSiteNoneMode:
			same = "None"
		}
		prefix := "no — a sibling subdomain or a plain-HTTP response can set or shadow it"
		if strings.HasPrefix(c.Name, "__Host-") {
			prefix = "yes — only this host, over HTTPS, can set it"
		}
		return []fact{
			{"Set-Cookie", line},
			{"HttpOnly", yes(c.HttpOnly, "scripts can read it")},
			{"Secure", yes(c.Secure, "it is also sent over plain HTTP")},
			{"SameSite", same},
			{"__Host- prefix", prefix},
		}
	}
	return []fact{{"Set-Cookie", "none for " + name}}
}
