package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeScript is axe-core's browser build, installed by `npm ci` in
// internal/e2e/axe from the version its package-lock.json pins.
var axeScript = filepath.Join("axe", "node_modules", "axe-core", "axe.min.js")

// loadAxe returns axe-core's source, or skips the test.
func loadAxe(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(axeScript)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("axe-core is not installed: run `npm ci` in internal/e2e/axe")
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

// wcagTags are the axe-core rule tags the pages must pass: WCAG 2.0, 2.1
// and 2.2, levels A and AA.
var wcagTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}

// axeResult is what axeRun reports of axe-core's results.
type axeResult struct {
	Passes     int            `json:"passes"` // rules that passed: none means axe did not really run
	Violations []axeViolation `json:"violations"`
}

type axeViolation struct {
	ID     string    `json:"id"`
	Impact string    `json:"impact"`
	Help   string    `json:"help"`
	Count  int       `json:"count"` // elements that fail
	Nodes  []axeNode `json:"nodes"` // the first three
}

type axeNode struct {
	Target string `json:"target"` // a CSS selector
	HTML   string `json:"html"`   // the element's markup, shortened
	Why    string `json:"why"`    // axe's message for this element
}

// axeRun is the script that runs axe-core on the page, or the part of it
// that its first argument says, with the options its second gives, and
// shapes the results for axeResult. Its promise is awaited.
const axeRun = `axe.run(%s, %s).then(r => ({
	passes: r.passes.length,
	violations: r.violations.map(v => ({
		id: v.id, impact: v.impact || "", help: v.help, count: v.nodes.length,
		nodes: v.nodes.slice(0, 3).map(n => ({
			target: n.target.flat(Infinity).join(" "),
			html: n.html.replace(/\s+/g, " ").slice(0, 160),
			why: ((n.any[0] || n.all[0] || n.none[0] || {}).message || "").replace(/\s+/g, " "),
		})),
	})),
}))`

// axeOptions runs the rules with any of tags, and reports passes only by
// rule (which is faster).
func axeOptions(tags ...string) string {
	return fmt.Sprintf(`{runOnly: {type: "tag", values: %s}, resultTypes: ["violations"]}`, jsStrings(tags))
}

// axeRuleOptions runs the named rules only.
func axeRuleOptions(rules ...string) string {
	return fmt.Sprintf(`{runOnly: {type: "rule", values: %s}, resultTypes: ["violations"]}`, jsStrings(rules))
}

// jsStrings writes s as a JavaScript array literal.
func jsStrings(s []string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // strings always marshal
	}
	return string(b)
}

// injectAxe loads axe-core into the page the tab shows. It goes in through
// the DevTools protocol, which the page's Content-Security-Policy (no
// scripts at all) does not govern.
func (b *tab) injectAxe(src string) {
	b.t.Helper()
	b.do("loading axe-core", chromedp.Evaluate[chromedp.Void](src))
}

// axe runs axe-core, injected already, on the page with the given options.
// Running transitions and animations are finished first, so that colours
// are measured as they end up.
func (b *tab) axe(options string) axeResult {
	b.t.Helper()
	return b.axeOn("document", options)
}

// axeOn runs axe-core on the part of the page that context (a JavaScript
// expression) says.
func (b *tab) axeOn(context, options string) axeResult {
	b.t.Helper()
	b.do("finishing animations", chromedp.Evaluate[chromedp.Void](`document.getAnimations().forEach(a => a.finish())`))
	res := get(b, "running axe-core", chromedp.Evaluate[axeResult](fmt.Sprintf(axeRun, context, options), chromedp.EvalAwaitPromise))
	if res.Passes == 0 {
		b.t.Fatalf("%s on %s: axe-core passed no rule at all: it did not really run", b.name, b.at().RequestURI())
	}
	return res
}

// overflow is what measureOverflow finds.
type overflow struct {
	ScrollWidth int               `json:"scrollWidth"` // document.documentElement's
	InnerWidth  int               `json:"innerWidth"`  // the window's
	Culprits    []overflowElement `json:"culprits"`
}

// overflowElement is an element that reaches past the window's right edge
// and is not merely carried there by a child.
type overflowElement struct {
	Tag   string `json:"tag"`
	Class string `json:"class"`
	Text  string `json:"text"`
	Right int    `json:"right"` // its right edge, with content that spills out of it
}

func (e overflowElement) String() string {
	s := e.Tag
	if e.Class != "" {
		s += "." + strings.Join(strings.Fields(e.Class), ".")
	}
	return fmt.Sprintf("<%s> reaches x=%d: %q", s, e.Right, e.Text)
}

// measureOverflow is the script that finds what makes the page wider than
// the window (%d is the width asked for: a phone may widen its window to
// fit the page). Each element's right edge counts the content that spills
// out of it; elements inside a box that clips them are left out, as are
// those whose overflow a child of theirs explains. The widest five are
// reported.
const measureOverflow = `(() => {
	const width = Math.min(window.innerWidth, %d);
	const doc = document.documentElement;
	const out = {scrollWidth: doc.scrollWidth, innerWidth: window.innerWidth, culprits: []};
	if (doc.scrollWidth <= width) return out;
	const clipped = e => {
		for (let p = e.parentElement; p && p !== document.body && p !== doc; p = p.parentElement) {
			if (getComputedStyle(p).overflowX !== "visible") return true;
		}
		return false;
	};
	const reach = new Map();
	for (const e of document.body.querySelectorAll("*")) {
		const r = e.getBoundingClientRect();
		let right = r.right + window.scrollX;
		if (e.scrollWidth > e.clientWidth && getComputedStyle(e).overflowX === "visible") {
			right = Math.max(right, r.left + window.scrollX + e.scrollWidth);
		}
		if (right > width + 0.5 && !clipped(e)) reach.set(e, right);
	}
	for (const [e, right] of reach) {
		if ([...e.children].some(c => (reach.get(c) || 0) >= right - 1)) continue;
		out.culprits.push({
			tag: e.tagName.toLowerCase(),
			class: typeof e.className === "string" ? e.className : "",
			text: (e.textContent || "").trim().replace(/\s+/g, " ").slice(0, 60),
			right: Math.round(right),
		});
	}
	out.culprits.sort((a, b) => b.right - a.right);
	out.culprits = out.culprits.slice(0, 5);
	return out;
})()`

// overflow measures how far the page reaches sideways in a window asked to
// be width wide.
func (b *tab) overflow(width int64) overflow {
	b.t.Helper()
	return get(b, "measuring the page", chromedp.Evaluate[overflow](fmt.Sprintf(measureOverflow, width)))
}

// colorScheme emulates prefers-color-scheme: "dark", "light", or "" for
// the browser's own.
func (b *tab) colorScheme(scheme string) {
	b.t.Helper()
	var p emulation.SetEmulatedMediaParams
	if scheme != "" {
		p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	b.do("emulating prefers-color-scheme: "+scheme, chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tt, emulation.SetEmulatedMedia, p)
		return err
	}))
}
