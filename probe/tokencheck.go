package probe

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// The token phase: collecting fresh tokens and judging them.

func (p *prober) checkWeakToken(ctx context.Context) error {
	n := p.cfg.TokenSamples
	var tokens []string
	var first []Step
	preIssued := false
	for _, c := range p.pre {
		preIssued = preIssued || (c.Name == p.name && c.Value == p.token)
	}
	// A fresh token comes from the login page when the id it issues before
	// login is the one the session keeps, and otherwise from a fresh login.
	fresh := func(j *jar) ([]Step, error) {
		p.opened = append(p.opened, j)
		steps, _, err := p.signInWith(ctx, j, nil)
		return steps, err
	}
	how, from := fmt.Sprintf("%d logins, each from a browser without cookies", n), "logging in"
	if preIssued {
		fresh = func(j *jar) ([]Step, error) {
			res, err := p.c.do(ctx, http.MethodGet, p.login, nil, j)
			if err != nil {
				return nil, err
			}
			return res.steps, nil
		}
		how, from = fmt.Sprintf("GET %s, %d times, each without cookies", p.login.Path, n), "the login page"
	}
	p.progress("collecting %d fresh tokens (%s)", n, from)
	for len(tokens) < n {
		j := newJar()
		steps, err := fresh(j)
		if err != nil {
			return err
		}
		v, ok := j.get(p.name)
		if !ok {
			p.skip("%s: %s did not set %s (after %d tokens)", WeakToken, from, p.name, len(tokens))
			return nil
		}
		tokens = append(tokens, v)
		if first == nil {
			first = steps
		}
	}
	p.samples = tokens
	p.rep.Tokens = newTokenStats(tokens)
	a := analyzeTokens(tokens)
	if format, ok := recordFormat(tokens); ok {
		same := ""
		if a.Duplicates > 0 {
			same = fmt.Sprintf(" (%d values were issued twice: a record of the same data signed in the same second is the same record, not a guessable id)", a.Duplicates)
		}
		p.skip("%s: the session cookie holds %s, not random ids, so its strength is the key's, which no sample of values can show%s; %s", WeakToken, format, same, a)
		return nil
	}
	why := a.Weak()
	detail := a.String()
	if len(tokens) > quickSamples {
		// Enough tokens for the statistics to say something; at the quick
		// default they would only see bits that never vary, which the
		// estimate above already counts.
		r := randomnessTests(tokens, p.cfg.Significance)
		if verdict, reasons := r.verdict(); verdict == weakTokens {
			why = append(why, reasons...)
		}
		detail += ". " + r.summary()
		p.rep.TokenTests = r.summary()
	}
	if len(why) == 0 {
		return nil
	}
	p.add(Finding{ID: WeakToken,
		Detail: strings.Join(why, "; ") + ". " + detail,
		Evidence: append(note(first, "The first of the fresh tokens:"),
			Step{Note: "All the fresh tokens, in the order issued:", Request: how, Response: strings.Join(tokens, "\n")})})
	return nil
}
