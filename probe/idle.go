package probe

import (
	"context"
	"fmt"
)

// The idle-timeout check.

func (p *prober) checkIdle(ctx context.Context) error {
	if p.cfg.IdleWait == 0 {
		return nil
	}
	p.progress("logging in, then leaving the session unused for %s", p.cfg.IdleWait)
	j := newJar()
	p.opened = append(p.opened, j)
	if _, _, err := p.signInWith(ctx, j, nil); err != nil {
		return err
	}
	ok, before, err := p.isAuthed(ctx, j, nil)
	if err != nil {
		return err
	}
	if !ok {
		p.skip("%s: a fresh login was not signed in", NoIdleTimeout)
		return nil
	}
	if err := p.c.sleep(ctx, p.cfg.IdleWait); err != nil {
		return err
	}
	ok, after, err := p.isAuthed(ctx, j, nil)
	if err != nil || !ok {
		return err
	}
	p.add(Finding{ID: NoIdleTimeout,
		Detail: fmt.Sprintf("the session still works after %s without use", p.cfg.IdleWait),
		Evidence: append(note(before.steps, "The session's last use:"),
			note(after.steps, fmt.Sprintf("%s later, still signed in:", p.cfg.IdleWait))...)})
	return nil
}
