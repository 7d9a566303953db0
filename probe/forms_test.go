package probe

import (
	"net/http"
	"net/url"
	"testing"
)

func TestLoginFormValues(t *testing.T) {
	base, _ := url.Parse("https://example.test/account/login?next=/home")
	page := `<html><body>
<form action="/search"><input name="q"></form>
<form method="POST" action="signin">
  <input type="hidden" name="csrf" value="tok123">
  <input type="email" name="email">
  <input type="password" name="pw">
  <input type="checkbox" name="remember" checked>
  <input type="checkbox" name="newsletter">
  <select name="lang"><option value="en">English</option><option value="fr" selected>Français</option></select>
  <textarea name="note">hi</textarea>
  <button type="submit" name="go" value="1">Sign in</button>
  <button type="submit" name="other" value="2">Other</button>
</form></body></html>`
	forms, _ := parsePage(base, page)
	f, ok := loginForm(forms, nil)
	if !ok {
		t.Fatal("no login form found")
	}
	if f.method != "POST" || f.action.String() != "https://example.test/account/signin" {
		t.Fatalf("form = %s %s, want POST https://example.test/account/signin", f.method, f.action)
	}
	got := f.values("carol@example.test", "s3cret", map[string]string{"lang": "de"})
	want := url.Values{
		"csrf": {"tok123"}, "email": {"carol@example.test"}, "pw": {"s3cret"}, "remember": {"on"},
		"lang": {"de"}, "note": {"hi"}, "go": {"1"},
	}
	if got.Encode() != want.Encode() {
		t.Fatalf("values = %s\nwant     %s", got.Encode(), want.Encode())
	}
}

// Rails' data-method links are sent as its script sends them.
func TestDataMethodLink(t *testing.T) {
	base, _ := url.Parse("http://example.test/profile")
	_, links := parsePage(base, `<head><meta name="csrf-param" content="authenticity_token"><meta name="csrf-token" content="tok"></head>
<a href="/users/sign_out" data-method="delete" rel="nofollow">Sign out</a>`)
	ways := logoutWays(base, base, nil, links, "")
	if len(ways) != 1 || ways[0].link == nil {
		t.Fatalf("ways = %v", ways)
	}
	if got := ways[0].link.form.Encode(); got != "_method=delete&authenticity_token=tok" {
		t.Fatalf("form = %s", got)
	}
}

func TestLoginFormNotSignUp(t *testing.T) {
	base, _ := url.Parse("http://example.test/")
	forms, _ := parsePage(base, `<form action="/signup" method="post"><input name="u"><input type="password" name="p1"><input type="password" name="p2"></form>
<form action="/login" method="post"><input name="u"><input type="password" name="p"></form>`)
	if f, ok := loginForm(forms, nil); !ok || f.action.Path != "/login" {
		t.Fatalf("loginForm = %v %v, want the form with one password field", f.action, ok)
	}
	if f, ok := loginForm(forms, map[string]string{"p2": "x"}); !ok || f.action.Path != "/signup" {
		t.Fatalf("loginForm with fields = %v %v, want the form holding them", f.action, ok)
	}
	if f, ok := loginForm(forms, map[string]string{"u": "alice"}); !ok || f.action.Path != "/login" {
		t.Fatalf("loginForm with fields both forms hold = %v %v, want the one with one password field", f.action, ok)
	}
}

func TestLoginFormByFields(t *testing.T) {
	base, _ := url.Parse("http://example.test/")
	forms, _ := parsePage(base, `<form action="/a"><input name="x"></form><form action="/b"><input name="pin"><input name="card"></form>`)
	f, ok := loginForm(forms, map[string]string{"pin": "1", "card": "2"})
	if !ok || f.action.Path != "/b" {
		t.Fatalf("loginForm = %v %v, want the form with the named fields", f.action, ok)
	}
	if _, ok := loginForm(forms, nil); ok {
		t.Fatal("a page without a password field has no login form unless fields name one")
	}
}

func TestLogoutAction(t *testing.T) {
	base, _ := url.Parse("http://example.test/profile")
	for _, tc := range []struct {
		name, page, path   string
		wantForm, wantLink string
	}{
		{"form by action", `<form method="post" action="/logout"><input type="hidden" name="t" value="v"><button>Bye</button></form><a href="/logout-info">x</a>`, "", "/logout", ""},
		{"form by button text", `<form method="post" action="/session/end"><button>Sign out</button></form>`, "", "/session/end", ""},
		{"link by text", `<a href="/help">Help</a><a href="/bye">Log out</a>`, "", "", "/bye"},
		{"link by path", `<a href="/users/sign_out">me</a>`, "", "", "/users/sign_out"},
		{"named path", `<a href="/logout">Log out</a><a href="/exit">Leave</a>`, "/exit", "", "/exit"},
		{"none", `<a href="/home">Home</a>`, "", "", ""},
		{"not a script, the page itself or another site", `<a href="javascript:logout()">Log out</a><a href="#">Log out</a><a href="https://other.test/logout">Log out</a>`, "", "", ""},
		{"not a page about logging out", `<a href="/help/how-to-logout">How do I log out of every device?</a>`, "", "", ""},
		{"a confirmation form on the logout page itself", `<form method="post" action="/profile"><button>Yes, sign out</button></form>`, "", "/profile", ""},
		{"an address before a text", `<form method="post" action="/devices/revoke"><button>Sign out</button></form><a href="/logout">Leave</a>`, "", "", "/logout"},
		{"sign off is not a logout", `<form method="post" action="/expenses/42/approve"><button>Sign off</button></form><form action="/x/signoff"><button>OK</button></form>`, "", "", ""},
		{"not other sessions", `<form method="post" action="/sessions/revoke"><button>Sign out other devices</button></form>`, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forms, links := parsePage(base, tc.page)
			ways := logoutWays(base, base, forms, links, tc.path)
			gotForm, gotLink := "", ""
			if len(ways) > 0 && ways[0].form != nil {
				gotForm = ways[0].form.action.Path
			}
			if len(ways) > 0 && ways[0].link != nil {
				gotLink = ways[0].link.href.Path
			}
			if gotForm != tc.wantForm || gotLink != tc.wantLink {
				t.Fatalf("logoutAction = form %q link %q, want form %q link %q", gotForm, gotLink, tc.wantForm, tc.wantLink)
			}
		})
	}
}

func TestJarExpiresCookies(t *testing.T) {
	j := newJar()
	for _, line := range []string{"a=1; Path=/", "b=2", "a=3; Secure", "b=; Max-Age=0"} {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatal(err)
		}
		j.set(c)
	}
	if got := j.header(); got != "a=3" {
		t.Fatalf("jar = %q, want a=3", got)
	}
}
