package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen int
	KeyLen  uint32
}

// DefaultParams meet OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on the parameters a stored hash may ask for, so that a tampered
// row cannot make one check cost a gigabyte.
const (
	maxMemory  = 256 * 1024
	maxTime    = 16
	maxThreads = 16
)

// ErrBusy means too many password hashes are being computed or waited for;
// the caller should answer 503 with Retry-After.
var ErrBusy = errors.New("auth: password hashing is at capacity")

// ErrClientBusy means the client's network already has its share of
// password hashes under way; the caller should answer 429 with
// Retry-After. Other clients are still served.
var ErrClientBusy = errors.New("auth: this client's share of password hashing is in use")

var errBadHash = errors.New("auth: malformed password hash")

var b64 = base64.RawStdEncoding

// Hasher computes argon2id hashes under a bound: a few at a time, with a
// short queue, shared fairly between clients. Past the queue, or after
// waiting too long, a request fails with ErrBusy, so that a login flood
// can neither exhaust memory nor starve other requests of CPU.
//
// Fairness: waiting requests are grouped by where they come from (an IPv4
// /24, an IPv6 /48: what one party commonly holds), and freed slots go to
// the groups in turn, first come first served within each. One client
// network (an IPv4 address, an IPv6 /64) may have at most a share of the
// slots running or waiting once there is a queue; past it, it is refused
// at once with ErrClientBusy. When the queue is full, a request from a
// group with fewer waiters takes the place of the newest waiter of the
// busiest group (which gets ErrClientBusy). So however many connections
// or addresses one party uses, everyone else still gets a turn. Requests
// name their client with ForClient.
type Hasher struct {
	params  Params
	slots   int           // hashes computed at once
	queue   int           // requests waiting at most
	share   int           // hashes one client network may have running or waiting
	maxWait time.Duration // a request waits at most this long

	mu      sync.Mutex
	running int
	queued  int
	clients map[string]int       // per client network: running and waiting
	groups  map[string][]*waiter // waiting, per group, first come first
	ring    []string             // groups with waiters, in the order of their turns

	dummyOnce      sync.Once
	dummy          string
	computed       atomic.Int64
	rejectedBusy   atomic.Int64 // ErrBusy answers
	rejectedClient atomic.Int64 // ErrClientBusy answers
}

type waiter struct {
	ready   chan struct{} // closed when the waiter is given a slot or evicted
	given   bool
	evicted bool
	c       clientID
}

// clientID says where a request comes from: its network, and the group
// of networks one party commonly holds.
type clientID struct{ net, group string }

// NewHasher returns a Hasher with the given parameters that uses at most
// half the CPUs (at least one), so that a login flood leaves the rest to
// every other page, with a queue of eight per slot.
func NewHasher(p Params) *Hasher {
	n := max(runtime.GOMAXPROCS(0)/2, 1)
	return NewHasherLimits(p, n, 8*n, time.Second)
}

// NewHasherLimits returns a Hasher that runs at most concurrent hashes at a
// time and lets at most queue more wait, each for at most maxWait. One
// client network may have at most half the slots (at least two) running
// or waiting while others wait.
func NewHasherLimits(p Params, concurrent, queue int, maxWait time.Duration) *Hasher {
	concurrent = max(concurrent, 1)
	return &Hasher{params: p, slots: concurrent, queue: max(queue, 1), share: max(concurrent/2, 2), maxWait: maxWait,
		clients: map[string]int{}, groups: map[string][]*waiter{}}
}

type clientKey struct{}

// ForClient returns ctx marked as a request of the client at clientIP, an
// IP address: the Hasher counts it against the client's network (the IPv4
// address, or the IPv6 /64) and gives turns by group (IPv4 /24, IPv6
// /48). Requests without one (the command line) are one client of their
// own.
func ForClient(ctx context.Context, clientIP string) context.Context {
	return context.WithValue(ctx, clientKey{}, clientID{clientNetwork(clientIP), clientGroup(clientIP)})
}

func clientOf(ctx context.Context) clientID {
	c, _ := ctx.Value(clientKey{}).(clientID)
	return c
}

func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	defer func() {
		switch err {
		case ErrBusy:
			h.rejectedBusy.Add(1)
		case ErrClientBusy:
			h.rejectedClient.Add(1)
		}
	}()
	c := clientOf(ctx)
	h.mu.Lock()
	if h.running < h.slots && h.queued == 0 {
		h.running++
		h.clients[c.net]++
		h.mu.Unlock()
		return func() { h.release(c) }, nil
	}
	if c.net != "" && h.clients[c.net] >= h.share {
		h.mu.Unlock()
		return nil, ErrClientBusy
	}
	if h.queued >= h.queue && !h.evictFor(c) {
		h.mu.Unlock()
		if c.net != "" && len(h.groups[c.group]) > 0 {
			return nil, ErrClientBusy // its group holds the most places
		}
		return nil, ErrBusy
	}
	wt := &waiter{ready: make(chan struct{}), c: c}
	if len(h.groups[c.group]) == 0 {
		h.ring = append(h.ring, c.group)
	}
	h.groups[c.group] = append(h.groups[c.group], wt)
	h.queued++
	h.clients[c.net]++
	h.mu.Unlock()

	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case <-wt.ready:
	case <-t.C:
		err = ErrBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case wt.given && err == nil:
		return func() { h.release(c) }, nil
	case wt.given: // given a slot as the wait ended: hand it on
		h.running--
		h.forget(c)
		h.dispatch()
	case wt.evicted: // already off the queue and the counts
		return nil, ErrClientBusy
	default:
		h.unqueue(wt)
		h.forget(c)
	}
	return nil, err
}

// evictFor makes a place in the full queue for a request of c by evicting
// the newest waiter of the group with the most waiters, if that group has
// more than c's. It reports whether it did. h.mu is held.
func (h *Hasher) evictFor(c clientID) bool {
	busiest, most := "", 0
	for _, g := range h.ring {
		if n := len(h.groups[g]); n > most {
			busiest, most = g, n
		}
	}
	if most == 0 || busiest == c.group || most <= len(h.groups[c.group]) {
		return false
	}
	q := h.groups[busiest]
	victim := q[len(q)-1]
	h.unqueue(victim)
	h.forget(victim.c)
	victim.evicted = true
	close(victim.ready)
	return true
}

// unqueue removes wt from its group's queue. h.mu is held.
func (h *Hasher) unqueue(wt *waiter) {
	q := h.groups[wt.c.group]
	for i, o := range q {
		if o == wt {
			q = append(q[:i], q[i+1:]...)
			break
		}
	}
	h.setGroup(wt.c.group, q)
	h.queued--
}

// setGroup stores a group's queue, dropping the group from the turns when
// it is empty. h.mu is held.
func (h *Hasher) setGroup(g string, q []*waiter) {
	if len(q) > 0 {
		h.groups[g] = q
		return
	}
	delete(h.groups, g)
	for i, o := range h.ring {
		if o == g {
			h.ring = append(h.ring[:i], h.ring[i+1:]...)
			break
		}
	}
}

// release gives back a slot of c's and hands it to the next waiter.
func (h *Hasher) release(c clientID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running--
	h.forget(c)
	h.dispatch()
}

// dispatch gives free slots to waiters: to the groups in turn, first come
// first served within each. h.mu is held.
func (h *Hasher) dispatch() {
	for h.running < h.slots && h.queued > 0 {
		g := h.ring[0]
		q := h.groups[g]
		wt := q[0]
		h.ring = append(h.ring[1:], g) // its next turn comes after the others'
		h.setGroup(g, q[1:])
		h.queued--
		wt.given = true
		h.running++
		close(wt.ready)
	}
}

// forget drops one request of c from its network's count. h.mu is held.
func (h *Hasher) forget(c clientID) {
	if h.clients[c.net]--; h.clients[c.net] <= 0 {
		delete(h.clients, c.net)
	}
}

// queuedNow returns how many requests wait.
func (h *Hasher) queuedNow() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.queued
}

// WithShare sets how many hashes one client network may have running or
// waiting while others wait, and returns h. Call it before use.
func (h *Hasher) WithShare(n int) *Hasher {
	h.share = max(n, 1)
	return h
}

// Computed returns how many argon2id computations the Hasher has run.
func (h *Hasher) Computed() int64 { return h.computed.Load() }

// HasherStats is a Hasher's state and counts, for monitoring.
type HasherStats struct {
	Slots, Running int // hashes computed at once at most, and now
	Queued, Queue  int // requests waiting now, and at most
	Computed       int64
	RejectedBusy   int64 // refused with ErrBusy: the queue full, or the wait too long
	RejectedClient int64 // refused with ErrClientBusy: the client's network had its share
}

// Stats returns the Hasher's state and counts.
func (h *Hasher) Stats() HasherStats {
	h.mu.Lock()
	st := HasherStats{Slots: h.slots, Running: h.running, Queued: h.queued, Queue: h.queue}
	h.mu.Unlock()
	st.Computed = h.computed.Load()
	st.RejectedBusy = h.rejectedBusy.Load()
	st.RejectedClient = h.rejectedClient.Load()
	return st
}

// Slot is the right to compute hashes now, held from Reserve to Release.
// Reserving before other work (reading the database, say) lets a request
// that would only be refused for lack of capacity be refused cheaply.
type Slot struct {
	h       *Hasher
	release func()
	done    bool
}

// Reserve waits for a slot, briefly, or fails with ErrBusy or
// ErrClientBusy.
func (h *Hasher) Reserve(ctx context.Context) (*Slot, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &Slot{h: h, release: release}, nil
}

// Release gives the slot back; further calls do nothing.
func (s *Slot) Release() {
	if !s.done {
		s.done = true
		s.release()
	}
}

// Hash returns the PHC string of password with a fresh salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	h.computed.Add(1)
	return hashPHC(password, h.params), nil
}

func hashPHC(password string, p Params) string {
	salt := make([]byte, p.SaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches the PHC string phc.
func (h *Hasher) Verify(ctx context.Context, phc, password string) (bool, error) {
	s, err := h.Reserve(ctx)
	if err != nil {
		return false, err
	}
	defer s.Release()
	return s.Verify(phc, password)
}

// Verify reports whether password matches the PHC string phc.
func (s *Slot) Verify(phc, password string) (bool, error) {
	p, salt, key, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	s.h.computed.Add(1)
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// VerifyDummy does the work of a Verify against a hash of the current
// parameters, so that an unknown user costs the same as a wrong password.
func (s *Slot) VerifyDummy(password string) {
	h := s.h
	h.dummyOnce.Do(func() { h.dummy = hashPHC("connectbook dummy password", h.params) })
	s.Verify(h.dummy, password)
}

// VerifyDummy is Slot.VerifyDummy with a slot of its own.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	s, err := h.Reserve(ctx)
	if err != nil {
		return err
	}
	defer s.Release()
	s.VerifyDummy(password)
	return nil
}

// NeedsRehash reports whether phc was made with other parameters.
func (h *Hasher) NeedsRehash(phc string) bool {
	p, _, key, err := parsePHC(phc)
	return err != nil || p.Memory != h.params.Memory || p.Time != h.params.Time ||
		p.Threads != h.params.Threads || uint32(len(key)) != h.params.KeyLen
}

func parsePHC(phc string) (Params, []byte, []byte, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return Params{}, nil, nil, errBadHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, errBadHash
	}
	if p.Memory < 8 || p.Memory > maxMemory || p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Threads > maxThreads {
		return Params{}, nil, nil, errBadHash
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, errBadHash
	}
	return p, salt, key, nil
}
