package probe

import (
	"context"
	"fmt"
)

// The idle-timeout check.

func (p *prober) checkIdle(ctx context.Context) (verdict, error) {
	p.progress("logging in, then leaving the session unused for %s", p.cfg.IdleWait)
	j := newJar()
	p.opened = append(p.opened, j)
	if _, err := p.signInWith(ctx, j, nil); err != nil {
		return verdict{}, err
	}
	ok, before, err := p.isAuthed(ctx, j, nil)
	if err != nil {
		return verdict{}, err
	}
	if !ok {
		return skipped("a fresh login was not signed in"), nil
	}
	if err := p.c.sleep(ctx, p.cfg.IdleWait); err != nil {
		return verdict{}, err
	}
	ok, after, err := p.isAuthed(ctx, j, nil)
	if err != nil || !ok {
		return passed(""), err
	}
	return failed(Finding{ID: NoIdleTimeout,
		Detail: fmt.Sprintf("the session still works after %s without use", p.cfg.IdleWait),
		Evidence: append(note(before.steps, "The session's last use:"),
			note(after.steps, fmt.Sprintf("%s later, still signed in:", p.cfg.IdleWait))...)}), nil
}
