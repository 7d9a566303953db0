package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/connectbook/connectbook/probe"
)

// The probe's attacks all fail against ConnectBook, on every store: no
// finding, and no check skipped (so logout was found and used), with a
// second account for fixation by an authenticated session. Sessions
// here end after five seconds unused (long enough for a sign-in and the
// page after it on a loaded machine), and the probe waits longer than that.
func TestProbeFindsNothing(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			opts := be.store(t)
			opts.IdleTimeout = 5 * time.Second
			opts.Now = time.Now // the probe waits in real time
			s := newServerOn(t, opts, defaultHasher())
			s.addUser("alice", alicePW)
			s.addUser("mallory", "mallory's own passphrase")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, err := probe.Run(ctx, probe.Config{
				Target: s.srv.URL, Username: "alice", Password: alicePW,
				Username2: "mallory", Password2: "mallory's own passphrase",
				IdleWait: 6 * time.Second, Rate: 2000, Client: s.srv.Client(),
			})
			if err != nil {
				t.Fatalf("probe.Run: %v", err)
			}
			for _, f := range rep.Findings {
				t.Errorf("finding %s: %s", f.ID, f.Detail)
			}
			if len(rep.Skipped) > 0 {
				t.Errorf("skipped checks: %v", rep.Skipped)
			}
			for _, c := range rep.Checks {
				if c.Outcome != probe.OutcomePassed {
					t.Errorf("check %s %s: %s", c.ID, c.Outcome, c.Why)
				}
			}
			// 20 logins for the token sample, and the rest.
			if rep.Requests < 60 {
				t.Errorf("only %d requests: not every check ran", rep.Requests)
			}
		})
	}
}
