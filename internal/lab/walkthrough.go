package lab

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"time"
)

// The walkthrough tells a variant's attack step by step, each step done
// for real when the visitor presses its button: the server plays the
// attacker and the victim itself, with simulated browsers that send their
// requests straight to this variant's handler, in process. (A simulated
// victim, rather than the visitor's own browser, keeps the visitor's
// browser out of the variant's sessions and works the same in every
// browser; each lesson also says how to do it by hand.) Then the same
// steps run against the real session package and fail.
//
// The walkthrough keeps no state of its own: the attacker's id travels in
// a hidden form field, and each ConnectBook run has its own database,
// deleted when the run ends. What a step can do, any visitor can already
// do to the variant with a request or two.

// walkTimeout bounds one step or one ConnectBook run.
const walkTimeout = 10 * time.Second

type walkStep struct {
	N                      int
	Title, Explain, Button string
	State                  string // done, current, next or later
	Outcome                *outcome
}

type walkData struct {
	Lesson  *lesson
	Steps   []walkStep
	ID      string
	Done    int
	CB      []outcome
	CBError string
}

var walkPage = template.Must(template.Must(pages.Clone()).Parse(`
{{define "outcome"}}<div class="outcome">
{{with .Log}}<ul class="log">
{{range .}}<li><span class="who {{if eq .Who "Attacker"}}attacker{{else}}victim{{end}}">{{.Who}}</span> <code>{{.Method}} {{.Target}}</code>
{{with .Sent}}<span class="line">sends Cookie: <code>{{.}}</code></span>{{else}}<span class="line">sends no cookie</span>{{end}}
<span class="line">gets {{.Status}} {{.StatusText}}{{with .Location}} → <code>{{.}}</code>{{end}}</span>
{{range .SetCookie}}<span class="line">Set-Cookie: <code>{{.}}</code></span>
{{end}}<span class="line">sees <span class="shows">{{.Shows}}</span></span></li>
{{end}}</ul>
{{end}}{{with .Facts}}<dl class="facts">
{{range .}}<dt>{{.Label}}</dt><dd><code>{{.Value}}</code></dd>
{{end}}</dl>
{{end}}{{with .Verdict}}<p class="verdict{{if $.Hijacked}} bad{{else if $.Held}} good{{end}}" role="status">{{.}}</p>{{end}}
</div>
{{end}}

{{define "walkthrough"}}{{template "top" .}}{{with .Data}}<section class="card">
<span class="part">Walkthrough · variant {{$.Variant}}</span>
<h1>{{.Lesson.Title}}</h1>
<p>{{.Lesson.Intro}}</p>
<p class="muted">Each button does the step for real: the server plays the attacker and the victim (alice, password123) with simulated browsers that send their requests to this lab, and shows every request and answer.</p>
</section>

<section class="card" aria-labelledby="part1">
<span class="part">Part 1</span>
<h2 id="part1">The attack, against this variant</h2>
<ol class="steps">
{{range .Steps}}<li class="{{.State}}">
<h3>{{.Title}}</h3>
{{with .Explain}}<p>{{.}}</p>{{end}}
{{if eq .State "done"}}<p class="muted">Done.</p>
{{else if eq .State "next"}}<form method="post" action="/walkthrough/step">
<input type="hidden" name="step" value="{{.N}}">
{{with $.Data.ID}}<input type="hidden" name="id" value="{{.}}">{{end}}
<button type="submit">{{.Button}}</button>
</form>
{{else if eq .State "later"}}<p class="muted">After the step before.</p>
{{end}}{{with .Outcome}}{{template "outcome" .}}{{end}}
</li>
{{end}}</ol>
{{if .Done}}<p class="again"><a href="/walkthrough">Start over</a></p>{{end}}
<p class="muted">By hand: {{.Lesson.ByHand}}</p>
</section>

<section class="card" aria-labelledby="part2">
<span class="part">Part 2</span>
<h2 id="part2">Now try it against ConnectBook</h2>
<p>{{.Lesson.CBIntro}}</p>
<form method="post" action="/walkthrough/connectbook">
{{with .ID}}<input type="hidden" name="id" value="{{.}}">{{end}}
<input type="hidden" name="done" value="{{.Done}}">
<button type="submit">Run the same steps against ConnectBook</button>
</form>
{{with .CBError}}<p class="error" role="alert">{{.}}</p>{{end}}
{{with .CB}}<ol class="steps">
{{range .}}<li class="done">
<h3>{{.Title}}</h3>
{{template "outcome" .}}
</li>
{{end}}</ol>
<h3>Why it fails</h3>
<ul class="why">
{{range $.Data.Lesson.Why}}<li>{{.}}</li>
{{end}}</ul>
{{end}}
</section>
{{end}}{{template "bottom" .}}{{end}}
`))

// showWalkthrough shows the lesson with d.Done steps done, the last one's
// outcome cur (nil if not just run), and the ConnectBook part's outcomes,
// if run.
func (a *app) showWalkthrough(w http.ResponseWriter, status int, d walkData, cur *outcome) {
	d.Lesson = a.lesson
	for i, s := range a.lesson.Steps {
		ws := walkStep{N: i + 1, Title: s.Title, Explain: s.Explain, Button: s.Button}
		switch {
		case i+1 == d.Done && cur != nil:
			ws.State, ws.Outcome = "current", cur
		case i+1 <= d.Done:
			ws.State = "done"
		case i == d.Done:
			ws.State = "next"
		default:
			ws.State = "later"
		}
		d.Steps = append(d.Steps, ws)
	}
	a.v.renderWith(walkPage, w, status, "walkthrough", "Walkthrough", &d)
}

func (a *app) walkthrough(w http.ResponseWriter, r *http.Request) {
	a.showWalkthrough(w, http.StatusOK, walkData{}, nil)
}

// walkForm parses a walkthrough form: the attacker's id so far, which
// must be a valid id if present.
func (a *app) walkForm(w http.ResponseWriter, r *http.Request) (string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		a.v.fail(w, http.StatusBadRequest, "The form could not be read.")
		return "", false
	}
	id := r.PostForm.Get("id")
	if id != "" && !validID(id) {
		a.v.fail(w, http.StatusBadRequest, "That id cannot be a session id here: use the one step 1 prepared.")
		return "", false
	}
	return id, true
}

func (a *app) walkStep(w http.ResponseWriter, r *http.Request) {
	id, ok := a.walkForm(w, r)
	if !ok {
		return
	}
	n, err := strconv.Atoi(r.PostForm.Get("step"))
	if err != nil || n < 1 || n > len(a.lesson.Steps) {
		a.v.fail(w, http.StatusBadRequest, "There is no such step.")
		return
	}
	if n > 1 && id == "" {
		a.v.fail(w, http.StatusBadRequest, "Start with step 1: the later steps need what it found.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), walkTimeout)
	defer cancel()
	o, next := a.lesson.Steps[n-1].run(run{r: r.WithContext(ctx), site: a.site, id: id, base: "http://" + r.Host})
	a.showWalkthrough(w, http.StatusOK, walkData{ID: next, Done: n}, &o)
}

func (a *app) walkConnectBook(w http.ResponseWriter, r *http.Request) {
	id, ok := a.walkForm(w, r)
	if !ok {
		return
	}
	// done only says how far part 1 got, to show it again as it was.
	done, err := strconv.Atoi(r.PostForm.Get("done"))
	if err != nil || done < 0 || done > len(a.lesson.Steps) || (id == "" && done > 0) {
		done = 0
	}
	ctx, cancel := context.WithTimeout(r.Context(), walkTimeout)
	defer cancel()
	d := walkData{ID: id, Done: done}
	status := http.StatusOK
	err = a.withConnectBook(ctx, func(e *cbEnv) { d.CB = a.lesson.connectbook(e, id) })
	switch {
	case errors.Is(err, errBusy):
		status, d.CBError = http.StatusServiceUnavailable, "Other runs against ConnectBook are under way; try again in a moment."
	case err != nil:
		status, d.CBError = http.StatusInternalServerError, "ConnectBook could not be started for this run."
	}
	a.showWalkthrough(w, status, d, nil)
}
