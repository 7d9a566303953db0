package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Window sizes the social pages are checked at: a desktop and a phone.
var socialSizes = []struct {
	w, h   int64
	mobile bool
}{{1280, 800, false}, {phoneWidth, phoneHeight, true}}

// TestSocial walks two people through the social network from two
// browsers at once: they sign up, one finds the other by search, they
// follow each other, post and see each other's posts in their home feeds,
// links and @mentions in posts are links, the mentioned one's
// notifications list the follow and the mention with an unread count in
// the menu until visited, and a block hides the blocker's posts and bio
// from the blocked one. The feed, a profile, search and notifications are
// measured at desktop and phone widths, with a 30-character username and a
// post holding a 60-character word, and must not scroll sideways.
func TestSocial(t *testing.T) {
	chromium := findChromium(t)
	s := startSite(t)
	shots := screenshotDir(t)
	browser := startBrowser(t, chromium)
	ada := newTab(t, browser, "Ada's browser", s.URL, chromeOnLinux)
	grace := newTab(t, browser, "Grace's browser", s.URL, firefoxOnLinux)

	const (
		adaName   = "ada_lovelace_analytical_engine" // 30 characters, the most a username holds
		adaPass   = "violet-otter-91-lantern"
		adaBio    = "Poetical science, one punched card at a time."
		graceName = "grace_hopper"
		gracePass = "quiet-harbour-27-maple"
	)
	if len(adaName) != 30 {
		t.Fatalf("%q is %d characters, want 30", adaName, len(adaName))
	}
	longWord := strings.Repeat("Difference", 6) // 60 characters without a break
	adaProfile, graceProfile := "/u/"+adaName, "/u/"+graceName

	// look checks that the page does not scroll sideways at each width,
	// and saves a screenshot of it at each as dir/name-<width>.png.
	look := func(b *tab, name string) {
		t.Helper()
		page := b.at().RequestURI()
		for _, size := range socialSizes {
			opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
			if size.mobile {
				opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
			}
			b.do(fmt.Sprintf("resizing to %d×%d", size.w, size.h), chromedp.EmulateViewport(size.w, size.h, opts...))
			// A phone may widen its viewport to fit what overflows it, so
			// the scroll width is compared with the window asked for too.
			m := get(b, "measuring the page", chromedp.Evaluate[[]int]("[document.documentElement.scrollWidth, window.innerWidth]"))
			if m[0] > m[1] || m[0] > int(size.w) {
				t.Errorf("%s on %s: the page is %dpx wide in a %dpx window (%d asked for): it scrolls sideways", b.name, page, m[0], m[1], size.w)
			}
			png := get(b, "taking a screenshot", chromedp.FullScreenshot(100))
			file := filepath.Join(shots, fmt.Sprintf("%s-%d.png", name, size.w))
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot of %s at %d×%d: %s", page, size.w, size.h, file)
		}
		b.do("restoring the window", chromedp.EmulateViewport(desktopWidth, desktopHeight))
	}
	signUp := func(b *tab, username, password string) {
		t.Helper()
		b.open("/signup")
		b.fill("username", username, "password", password, "password_confirm", password)
		b.click(`form[action="/signup"] button[type=submit]`)
		b.wantAt("/profile", "")
	}
	// post writes body from the home page; the newest post then shows
	// want.
	post := func(b *tab, body, want string) {
		t.Helper()
		b.open("/")
		b.fill("body", body)
		b.click(`form[action="/posts"] button[type=submit]`)
		b.wantAt("/", "")
		b.wantText("main p.notice", "Your post is up.")
		b.wantText("ol.posts li.post .post-body", want)
	}
	// feed returns the text of the posts the page lists, in order.
	feed := func(b *tab) []string {
		t.Helper()
		return get(b, "reading the posts", chromedp.Evaluate[[]string](`[...document.querySelectorAll("ol.posts li.post .post-body")].map(e => e.innerText)`))
	}
	wantPosts := func(b *tab, want ...string) {
		t.Helper()
		if got := feed(b); !inOrder(got, want) {
			t.Errorf("%s on %s: the posts are %q, want %q among them in that order", b.name, b.at().RequestURI(), got, want)
		}
	}
	noPostBy := func(b *tab, username string) {
		t.Helper()
		if n := b.count(fmt.Sprintf(`ol.posts li.post a.post-author[href="/u/%s"]`, username)); n != 0 {
			t.Errorf("%s on %s: %d posts by @%s show, want none", b.name, b.at().RequestURI(), n, username)
		}
	}
	unread := func(b *tab) string {
		t.Helper()
		if b.count("header .nav a[href='/notifications'] .count") == 0 {
			return ""
		}
		return b.text("header .nav a[href='/notifications'] .count span[aria-hidden]")
	}

	// Both sign up, at once, in browsers of their own; Ada writes a bio
	// and a first post.
	signUp(ada, adaName, adaPass)
	signUp(grace, graceName, gracePass)
	ada.fill("bio", adaBio)
	ada.click(`form[action="/profile"] button[type=submit]`)
	ada.wantText("main p.notice", "Your profile is saved.")
	first := "Hello from the engine room."
	post(ada, first, first)

	// Grace finds Ada by searching for the start of her name, in another
	// case.
	grace.open("/search")
	grace.fill("q", "ADA_LOVE")
	grace.click(`form[role=search] button[type=submit]`)
	if u := grace.at(); u.Path != "/search" || u.Query().Get("q") != "ADA_LOVE" {
		t.Fatalf("searching led to %s", u.RequestURI())
	}
	grace.wantText("ul.people", adaName)
	look(grace, "search")

	// On Ada's profile, Grace sees the bio and the post, and follows.
	grace.click(fmt.Sprintf(`ul.people a.person-name[href=%q]`, adaProfile))
	grace.wantAt(adaProfile, "")
	grace.wantText("section.profile", adaName, adaBio, "0 followers")
	wantPosts(grace, first)
	grace.click(fmt.Sprintf(`form[action="%s/follow"] button`, adaProfile))
	grace.wantAt(adaProfile, "")
	grace.wantText("main p.notice", "You now follow them")
	grace.wantText("section.profile", "1 follower")
	grace.wantText(fmt.Sprintf(`form[action="%s/unfollow"] button`, adaProfile), "Unfollow")

	// Ada follows back from Grace's profile, which says Grace follows her.
	ada.open(graceProfile)
	ada.wantText("section.profile", "Follows you.")
	ada.click(fmt.Sprintf(`form[action="%s/follow"] button`, graceProfile))
	ada.wantAt(graceProfile, "")
	ada.wantText("main p.notice", "You now follow them")
	ada.wantText("section.profile", "1 follower", "1 following")

	// Grace posts a link and a mention of Ada, then a post with a word too
	// long for a phone's width; Ada posts again.
	mention := "Read the notes at https://example.com/sketch/notes?part=G, thanks @" + strings.ToUpper(adaName[:1]) + adaName[1:] + "!"
	mentionShown := strings.Replace(mention, "https://", "", 1) // links show without the scheme
	post(grace, mention, mentionShown)
	grace.wantCount(`ol.posts li.post:first-child .post-body a[href="https://example.com/sketch/notes?part=G"]`, 1)
	grace.wantCount(fmt.Sprintf(`ol.posts li.post:first-child .post-body a.mention[href=%q]`, adaProfile), 1)
	long := "A word that does not fit: " + longWord + "."
	post(grace, long, long)
	second := "Both feeds, one loom."
	post(ada, second, second)

	// Each sees the other's posts in the home feed, newest first.
	wantPosts(ada, second, long, mentionShown, first)
	grace.open("/")
	wantPosts(grace, second, long, mentionShown, first)
	ada.wantCount(fmt.Sprintf(`ol.posts .post-body a.mention[href=%q]`, adaProfile), 1)
	ada.wantCount(`ol.posts .post-body a[href="https://example.com/sketch/notes?part=G"]`, 1)
	look(ada, "feed")

	// The mention link leads to Ada's profile, with the long post.
	ada.click(fmt.Sprintf(`ol.posts .post-body a.mention[href=%q]`, adaProfile))
	ada.wantAt(adaProfile, "")
	ada.wantText("section.profile", "1 follower", "1 following", "2 posts")
	look(ada, "profile")

	// Ada's menu counts the follow and the mention until she has seen
	// them on the notifications page.
	if got := unread(ada); got != "2" {
		t.Errorf("Ada's menu shows %q unread notifications, want 2", got)
	}
	ada.click(`header .nav a[href="/notifications"]`)
	ada.wantAt("/notifications", "")
	ada.wantCount("ol.notifications li.notification", 2)
	ada.wantCount("ol.notifications li.notification.unread", 2)
	ada.wantText("ol.notifications li.notification:nth-child(1)", graceName, "mentioned you:", "Read the notes")
	ada.wantText("ol.notifications li.notification:nth-child(2)", graceName, "followed you.")
	look(ada, "notifications")
	// Seen, on this page already and on the next.
	if got := unread(ada); got != "" {
		t.Errorf("on the notifications page, Ada's menu shows %q unread, want no count", got)
	}
	ada.open("/")
	if got := unread(ada); got != "" {
		t.Errorf("after visiting the notifications page, Ada's menu shows %q unread, want no count", got)
	}
	ada.open("/notifications")
	ada.wantCount("ol.notifications li.notification.unread", 0)

	// Grace's profile, as Ada sees it, at phone and desktop widths.
	ada.open(graceProfile)
	wantPosts(ada, long, mentionShown)
	look(ada, "profile-other")

	// Ada blocks Grace from Grace's profile.
	ada.click(fmt.Sprintf(`form[action="%s/block"] button`, graceProfile))
	ada.wantAt(graceProfile, "")
	ada.wantText("main p.notice", "Blocked.")
	ada.wantText(fmt.Sprintf(`form[action="%s/unblock"] button`, graceProfile), "Unblock")
	ada.wantText("main", "You have blocked @"+graceName)

	// Grace no longer sees Ada's bio or posts on her profile, nor a way to
	// follow her, and Ada's posts have left Grace's feed.
	grace.open(adaProfile)
	grace.wantText("section.profile", "has blocked you")
	if got := grace.text("main"); strings.Contains(got, adaBio) {
		t.Errorf("Grace sees Ada's bio after the block: %q", got)
	}
	grace.wantCount("ol.posts li.post", 0)
	grace.wantCount("#posts-title", 0) // no empty "Posts" section either
	grace.wantCount(fmt.Sprintf(`form[action="%s/follow"]`, adaProfile), 0)
	look(grace, "profile-blocked")
	grace.open("/")
	noPostBy(grace, adaName)
	wantPosts(grace, long, mentionShown)

	// Grace's new mentions of Ada no longer reach her.
	post(grace, "Still there, @"+adaName+"?", "Still there, @"+adaName+"?")
	ada.open("/")
	if got := unread(ada); got != "" {
		t.Errorf("a blocked user's mention shows in Ada's menu as %q unread", got)
	}
	noPostBy(ada, graceName)
	wantPosts(ada, second, first)
}
