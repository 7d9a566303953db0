package probe

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
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
	var at []time.Time // when each token was issued
	next := func() (string, []Step, verdict, error) {
		j := newJar()
		steps, err := fresh(j)
		if err != nil {
			return "", nil, verdict{}, err
		}
		v, ok := j.get(s.name)
		if !ok {
			return "", nil, skipped("%s did not set %s (after %d tokens)", from, s.name, len(tokens)), nil
		}
		at = append(at, p.c.now())
		return v, steps, verdict{}, nil
	}
	p.progress("collecting %d fresh tokens (%s)", n, from)
	for len(tokens) < n {
		v, steps, skip, err := next()
		if err != nil || skip.skipped != "" {
			return tokenSample{}, skip, err
		}
		tokens = append(tokens, v)
		if first == nil {
			first = steps
		}
	}
	got := tokenSample{tokens: tokens}
	a := analyzeTokens(tokens)
	if unsignedJWTs(tokens) {
		return got, failed(Finding{ID: WeakToken,
			Detail: "the session cookie holds JWTs with no signature (an empty one, or the \"none\" algorithm): anyone can write a session for any user. " + a.String(),
			Evidence: append(note(first, "The first of the fresh tokens:"),
				Step{Note: "All the fresh tokens, in the order issued:", Request: how, Response: strings.Join(tokens, "\n")})}), nil
	}
	format, ok := recordFormat(tokens)
	if !ok && len(s.companions) > 0 {
		format, ok = signedElsewhere(tokens, s.companions[0].Name)
	}
	timed := tokens
	if !ok && a.Duplicates > 0 && at[len(at)-1].Sub(at[0]) < sameTimeSpan {
		// Every value the same, issued within a second or two: one more,
		// later, tells a value that changes with the time.
		p.progress("every token is the same; one more in %s", sameTimeSpan)
		if err := p.c.sleep(ctx, sameTimeSpan); err != nil {
			return tokenSample{}, verdict{}, err
		}
		v, _, skip, err := next()
		if err != nil || skip.skipped != "" {
			return tokenSample{}, skip, err
		}
		timed = append(slices.Clip(tokens), v)
	}
	if !ok {
		format, ok = timedRecords(timed, at)
	}
	if ok {
		same := ""
		if a.Duplicates > 0 {
			same = fmt.Sprintf(" (%d values were issued twice: a record of the same data signed in the same second is the same record, not a guessable id)", a.Duplicates)
		}
		return got, skipped("the session cookie holds %s, not random ids, so its strength is the key's, which no sample of values can show%s", format, same), nil
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
