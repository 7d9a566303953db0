package probe

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// WriteHTML writes the report as one self-contained HTML page, to keep or
// attach to a build: the summary, the checks, the findings most severe
// first with their evidence, fixes and references, and a chart of the
// token sample. It loads nothing (styles and chart are inline, and it has
// no scripts), and cookie and token values in it are masked.
func (r *Report) WriteHTML(w io.Writer) error {
	return writeHTML(w, htmlPage(r, time.Now()))
}

// WriteFailedHTML writes the page for a probe of target that could not
// run, saying why.
func WriteFailedHTML(w io.Writer, target string, runErr error) error {
	return writeHTML(w, page{Target: target, Date: time.Now().UTC().Format(time.RFC1123), Error: sentence(runErr.Error())})
}

var htmlTemplate = template.Must(template.New("report").Parse(htmlSource))

func writeHTML(w io.Writer, p page) error {
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, p); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// page is what the HTML report shows.
type page struct {
	Target, Date string
	Error        string // why the probe could not run
	Requests     int
	Summary      string
	Counts       []count
	Checks       []checkRow
	Findings     []findingView
	Chart        *chart
	TokenTests   string // the randomness tests' summary, for a large sample
	LoginPage    string // where the login form was found, if not at the login path
	DeviceBound  string
	LeftSignedIn string
	Masked       bool
}

type count struct {
	Label string
	N     int
	Class string
}

type checkRow struct {
	ID, Checks, Outcome, Why string
}

type findingView struct {
	ID, Severity, Title, Detail, Fix string
	Evidence                         []Step
	References                       []reference
}

func htmlPage(r *Report, now time.Time) page {
	m := newMasker(r)
	p := page{Target: r.Target, Date: now.UTC().Format(time.RFC1123), Requests: r.Requests, Masked: len(m.labels) > 0}
	findings := bySeverity(r.Findings)
	if len(findings) == 0 {
		p.Summary = "No findings: none of the attacks worked."
	} else {
		p.Summary = fmt.Sprintf("%s: %s.", capitalise(plural(len(findings), "finding")), severityCounts(findings))
	}
	for _, s := range severities {
		n := 0
		for _, f := range findings {
			if f.Severity == s {
				n++
			}
		}
		p.Counts = append(p.Counts, count{capitalise(s), n, s})
	}
	for _, o := range []string{OutcomePassed, OutcomeFailed, OutcomeSkipped} {
		n := 0
		for _, c := range r.Checks {
			if c.Outcome == o {
				n++
			}
		}
		p.Counts = append(p.Counts, count{"Checks " + o, n, o})
	}
	for _, c := range r.Checks {
		p.Checks = append(p.Checks, checkRow{ID: c.ID, Checks: catalog[c.ID].checks, Outcome: c.Outcome, Why: m.mask(sentence(c.Why))})
	}
	for _, f := range findings {
		v := findingView{ID: f.ID, Severity: f.Severity, Title: f.Title, Detail: m.mask(sentence(f.Detail)),
			Fix: sentence(f.Fix), References: references(f.ID)}
		for _, s := range f.Evidence {
			v.Evidence = append(v.Evidence, Step{Note: m.mask(capitalise(s.Note)), Request: m.mask(s.Request), Response: m.mask(s.Response)})
		}
		p.Findings = append(p.Findings, v)
	}
	p.Chart = newChart(r.Tokens)
	p.TokenTests, p.LoginPage = r.TokenTests, r.LoginPage
	if r.DeviceBound.Offered {
		p.DeviceBound = fmt.Sprintf("Offered at sign-in (%s", strings.Join(r.DeviceBound.Algorithms, ", "))
		if r.DeviceBound.Registration != "" {
			p.DeviceBound += "; registration at " + r.DeviceBound.Registration
		}
		p.DeviceBound += "): in browsers that support them, a copied session cookie stops working away from the device."
	} else {
		p.DeviceBound = "Not offered at sign-in (for information: a copied session cookie works on any device until the session ends)."
	}
	if r.LeftSignedIn > 0 {
		p.LeftSignedIn = fmt.Sprintf("%s the probe opened could not be logged out (%s); they end with the site's timeouts.",
			capitalise(plural(r.LeftSignedIn, "session")), r.LeftSignedInWhy)
	}
	return p
}

// chart is the token sample's entropy, position by position, as the bars
// of an SVG chart.
type chart struct {
	Width, Height, Top, Bottom int
	Bars                       []bar
	Summary                    string
	Max                        float64
	Ticks                      []tick
}

type bar struct {
	X, Y, W, H int
	Class      string
	Label      string
}

type tick struct {
	Y     int
	Label string
}

func newChart(s *TokenStats) *chart {
	if s == nil || len(s.Positions) == 0 {
		return nil
	}
	const plot, top, bottom = 120, 10, 20
	step := max(2, min(16, 640/len(s.Positions)))
	c := &chart{Width: 40 + step*len(s.Positions) + 10, Height: top + plot + bottom, Top: top, Bottom: top + plot,
		Summary: fmt.Sprintf("%s: an estimated %.0f bits in all, %.0f wanted.", capitalise(s.Summary), s.EffectiveBits, s.WantedBits)}
	if strings.Contains(s.Summary, "bits of entropy") {
		c.Summary = sentence(s.Summary)
	}
	c.Max = 8
	for _, p := range s.Positions {
		c.Max = max(c.Max, p.Bits)
	}
	for _, b := range []float64{0, c.Max / 2, c.Max} {
		c.Ticks = append(c.Ticks, tick{Y: top + plot - int(b/c.Max*plot), Label: fmt.Sprintf("%.0f", b)})
	}
	for i, p := range s.Positions {
		h := int(p.Bits / c.Max * plot)
		class := "weak"
		if p.Passed {
			class = "strong"
		}
		c.Bars = append(c.Bars, bar{X: 40 + i*step, Y: top + plot - h, W: max(1, step-1), H: h, Class: class,
			Label: fmt.Sprintf("Position %d: %.1f bits", p.Position, p.Bits)})
	}
	return c
}

// masker hides the values of cookies, session tokens and password fields
// in what a report shows, so that a saved report opens no session: each value becomes a
// numbered label (long ones keep their first four characters), the same
// for the same value, so that the evidence still shows which tokens are
// alike. The client already masks passwords.
type masker struct {
	labels map[string]string
	order  []string // longest first
}

// statusLine is how a response's evidence starts: with its status.
var statusLine = regexp.MustCompile(`^\d{3}( |$)`)

func newMasker(r *Report) *masker {
	m := &masker{labels: map[string]string{}}
	names := map[string]bool{}
	for _, n := range urlParams {
		names[n] = true
	}
	var values []string
	var queries []string
	for _, f := range r.Findings {
		for _, s := range f.Evidence {
			if _, body, ok := strings.Cut(s.Request, "\n\n"); ok {
				// A form: the client masks the password it typed, and
				// any other field named for one is masked here.
				if form, err := url.ParseQuery(body); err == nil {
					for k, vs := range form {
						if strings.Contains(strings.ToLower(k), "pass") {
							values = append(values, vs...)
						}
					}
				}
			}
			for line := range strings.SplitSeq(s.Request, "\n") {
				if v, ok := strings.CutPrefix(line, "Cookie: "); ok {
					for _, c := range strings.Split(v, "; ") {
						name, value, _ := strings.Cut(c, "=")
						names[name] = true
						values = append(values, value)
					}
				} else if _, target, ok := strings.Cut(line, " "); ok && strings.HasPrefix(target, "/") {
					queries = append(queries, target)
				}
			}
			if !statusLine.MatchString(s.Response) {
				// Not an HTTP response: the token sample, one a line.
				for line := range strings.SplitSeq(s.Response, "\n") {
					if line != "" && !strings.Contains(line, " ") {
						values = append(values, line)
					}
				}
				continue
			}
			for line := range strings.SplitSeq(s.Response, "\n") {
				if v, ok := strings.CutPrefix(line, "Set-Cookie: "); ok {
					if c, err := http.ParseSetCookie(v); err == nil {
						names[c.Name] = true
						values = append(values, c.Value)
					}
				} else if v, ok := strings.CutPrefix(line, "Location: "); ok {
					queries = append(queries, v)
				}
			}
		}
	}
	for _, q := range queries {
		u, err := url.Parse(q)
		if err != nil {
			continue
		}
		for k, vs := range u.Query() {
			if names[k] || strings.Contains(strings.ToLower(k), "pass") {
				values = append(values, vs...)
			}
		}
	}
	n := 0
	for _, v := range values {
		if len(v) < minMasked || m.labels[v] != "" || v == "********" {
			continue
		}
		n++
		label := fmt.Sprintf("[masked #%d]", n)
		if len(v) >= 16 {
			label = v[:4] + "…" + label
		}
		m.labels[v] = label
		m.order = append(m.order, v)
	}
	slices.SortStableFunc(m.order, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return m
}

// minMasked is the shortest value masked: shorter ones would hide other
// text, and hold too little to be worth hiding.
const minMasked = 4

// mask replaces every masked value in s that stands on its own, and its
// URL-encoded form.
func (m *masker) mask(s string) string {
	for _, v := range m.order {
		s = replaceWhole(s, v, m.labels[v])
		if e := url.QueryEscape(v); e != v {
			s = replaceWhole(s, e, m.labels[v])
		}
	}
	return s
}

// replaceWhole replaces old in s where it is not part of a longer run of
// token characters.
func replaceWhole(s, old, repl string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + len(old)
		if (i > 0 && tokenChar(s[i-1])) || (j < len(s) && tokenChar(s[j])) {
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s = s[j:]
	}
}

func tokenChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("-_.~+/%", c) >= 0
}

// htmlSource is the page. It must stay self-contained: no scripts, and no
// address to load anything from, only the references' plain links.
const htmlSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Session probe of {{.Target}}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid #ddd; }
pre { background: #f5f5f5; padding: .5rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; font-size: 13px; margin: .2rem 0; }
pre.response { background: #eef3f8; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: .2rem; font-size: .8rem; font-weight: 600; text-transform: uppercase; color: #fff; }
.high { background: #b00020; } .medium { background: #c25e00; } .low { background: #7a6a00; }
.counts .high, .counts .medium, .counts .low { color: #fff; padding: 0 .3rem; border-radius: .2rem; }
.passed { color: #1b6e20; } .failed { color: #b00020; font-weight: 600; } .skipped { color: #666; }
.counts { display: flex; flex-wrap: wrap; gap: .5rem; padding: 0; list-style: none; }
.counts li { border: 1px solid #ddd; border-radius: .3rem; padding: .2rem .6rem; }
section.finding { border-top: 2px solid #ddd; margin-top: 1.5rem; }
svg .strong { fill: #2e7d32; } svg .weak { fill: #c62828; } svg text { font-size: 10px; fill: #444; } svg line { stroke: #999; }
.note { color: #555; }
</style>
</head>
<body>
<h1>Session probe of {{.Target}}</h1>
<p>{{.Date}}{{if not .Error}}, {{.Requests}} requests{{end}}.</p>
{{- if .Error}}
<p class="failed">The probe could not run. {{.Error}}</p>
{{- else}}
<h2>Summary</h2>
<p>{{.Summary}}</p>
{{- with .LoginPage}}
<p>The login path showed no login form; the probe found one at <code>{{.}}</code>.</p>
{{- end}}
<ul class="counts">
{{- range .Counts}}
<li><span class="{{.Class}}">{{.Label}}</span>: {{.N}}</li>
{{- end}}
</ul>
<p>Device Bound Session Credentials: {{.DeviceBound}}</p>
{{- if .LeftSignedIn}}
<p>{{.LeftSignedIn}}</p>
{{- end}}
{{- if .Checks}}
<h2>Checks</h2>
<table>
<tr><th>Check</th><th>What it tries</th><th>Outcome</th></tr>
{{- range .Checks}}
<tr><td><code>{{.ID}}</code></td><td>{{.Checks}}</td><td><span class="{{.Outcome}}">{{.Outcome}}</span>{{if .Why}}: {{.Why}}{{end}}</td></tr>
{{- end}}
</table>
{{- end}}
{{- with .Chart}}
<h2>The token sample</h2>
<p>{{.Summary}}</p>
{{- with $.TokenTests}}
<p>{{.}}</p>
{{- end}}
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" role="img" aria-label="Estimated bits of entropy at each position of the tokens">
{{- range .Ticks}}
<line x1="36" x2="{{$.Chart.Width}}" y1="{{.Y}}" y2="{{.Y}}" stroke-dasharray="2 3"></line><text x="30" y="{{.Y}}" text-anchor="end" dominant-baseline="middle">{{.Label}}</text>
{{- end}}
{{- range .Bars}}
<rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Label}}</title></rect>
{{- end}}
<text x="40" y="{{.Bottom}}" dy="14">position 1</text>
</svg>
<p class="note">Bits of entropy at each character position: green where the position varies as a random one would, red where it varies less (or not at all).</p>
{{- end}}
<h2>Findings</h2>
{{- if .Masked}}
<p class="note">Cookie values, tokens and passwords are masked: each is shown as a numbered label, the same for the same value throughout the report.</p>
{{- end}}
{{- range .Findings}}
<section class="finding" id="{{.ID}}">
<h3><span class="badge {{.Severity}}">{{.Severity}}</span> {{.Title}}</h3>
<p><code>{{.ID}}</code>{{if .Detail}}: {{.Detail}}{{end}}</p>
<h4>Evidence</h4>
{{- range .Evidence}}
{{- if .Note}}
<p class="note">{{.Note}}</p>
{{- end}}
<pre class="request">{{.Request}}</pre>
<pre class="response">{{.Response}}</pre>
{{- end}}
<h4>Fix</h4>
<p>{{.Fix}}</p>
{{- if .References}}
<p>References:{{range $i, $r := .References}}{{if $i}},{{end}} <a href="{{$r.URL}}">{{$r.Name}}</a>{{end}}.</p>
{{- end}}
</section>
{{- else}}
<p>None of the attacks worked.</p>
{{- end}}
{{- end}}
</body>
</html>
`
