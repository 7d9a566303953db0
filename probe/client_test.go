package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// Requests are spaced by the interval the rate gives, and stop at the
// budget.
func TestClientRateAndBudget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	clock := time.Unix(0, 0)
	var waits []time.Duration
	c := &client{hc: srv.Client(), base: base, budget: 5, interval: 50 * time.Millisecond, secrets: map[string]bool{},
		now: func() time.Time { return clock },
		sleep: func(_ context.Context, d time.Duration) error {
			waits = append(waits, d)
			clock = clock.Add(d)
			return nil
		}}
	for i := range 5 {
		if i == 2 {
			clock = clock.Add(20 * time.Millisecond) // time spent elsewhere counts
		}
		if _, err := c.do(context.Background(), http.MethodGet, base, nil, newJar()); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{50 * time.Millisecond, 30 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}
	if len(waits) != len(want) {
		t.Fatalf("waits = %v, want %v", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits = %v, want %v", waits, want)
		}
	}
	if _, err := c.do(context.Background(), http.MethodGet, base, nil, newJar()); err != ErrBudget {
		t.Fatalf("sixth request: %v, want ErrBudget", err)
	}
}
