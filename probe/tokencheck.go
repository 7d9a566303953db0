package probe

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// The token phase: collecting fresh tokens and judging them.

// tokenSample is the fresh tokens the weak-token check collected, and the
// summary of their randomness tests when there were enough to run them.
type tokenSample struct {
	tokens []string
	tests  string
}

func (p *prober) checkWeakToken(ctx context.Context, s signedIn) (tokenSample, verdict, error) {
	n := p.cfg.TokenSamples
	var tokens []string
	var first []Step
	preIssued := false
	for _, c := range s.pre {
		preIssued = preIssued || (c.Name == s.name && c.Value == s.token)
	}
	// A fresh token comes from the login page when the id it issues before
	// login is the one the session keeps, and otherwise from a fresh login.
	fresh := func(j *jar) ([]Step, error) {
		p.opened = append(p.opened, j)
		login, err := p.signInWith(ctx, j, nil)
		return login.steps, err
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
			return tokenSample{}, verdict{}, err
		}
		v, ok := j.get(s.name)
		if !ok {
			return tokenSample{}, skipped("%s did not set %s (after %d tokens)", from, s.name, len(tokens)), nil
		}
		tokens = append(tokens, v)
		if first == nil {
			first = steps
		}
	}
	got := tokenSample{tokens: tokens}
	a := analyzeTokens(tokens)
	if format, ok := recordFormat(tokens); ok {
		same := ""
		if a.Duplicates > 0 {
			same = fmt.Sprintf(" (%d values were issued twice: a record of the same data signed in the same second is the same record, not a guessable id)", a.Duplicates)
		}
		return got, skipped("the session cookie holds %s, not random ids, so its strength is the key's, which no sample of values can show%s; %s", format, same, a), nil
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
		got.tests = r.summary()
	}
	if len(why) == 0 {
		return got, passed(""), nil
	}
	return got, failed(Finding{ID: WeakToken,
		Detail: strings.Join(why, "; ") + ". " + detail,
		Evidence: append(note(first, "The first of the fresh tokens:"),
			Step{Note: "All the fresh tokens, in the order issued:", Request: how, Response: strings.Join(tokens, "\n")})}), nil
}
