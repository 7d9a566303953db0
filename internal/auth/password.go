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

var errBadHash = errors.New("auth: malformed password hash")

var b64 = base64.RawStdEncoding

// Hasher computes argon2id hashes under a bound: at most one per CPU at a
// time, with a short queue. Past the queue, or after waiting too long, it
// fails with ErrBusy, so that a login flood can neither exhaust memory nor
// starve other requests of CPU.
type Hasher struct {
	params  Params
	slots   chan struct{}
	waiting atomic.Int32
	queue   int32
	maxWait time.Duration

	dummyOnce sync.Once
	dummy     string
	computed  atomic.Int64
}

// NewHasher returns a Hasher with the given parameters that uses at most
// half the CPUs (at least one), so that a login flood leaves the rest to
// every other page, with a short queue.
func NewHasher(p Params) *Hasher {
	n := max(runtime.GOMAXPROCS(0)/2, 1)
	return NewHasherLimits(p, n, 2*n, time.Second)
}

// NewHasherLimits returns a Hasher that runs at most concurrent hashes at a
// time, lets at most queue more wait, each for at most maxWait.
func NewHasherLimits(p Params, concurrent, queue int, maxWait time.Duration) *Hasher {
	return &Hasher{params: p, slots: make(chan struct{}, max(concurrent, 1)), queue: int32(queue), maxWait: maxWait}
}

// Computed returns how many argon2id computations the Hasher has run.
func (h *Hasher) Computed() int64 { return h.computed.Load() }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.queue {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Slot is the right to compute hashes now, held from Reserve to Release.
// Reserving before other work (reading the database, say) lets a request
// that would only be refused for lack of capacity be refused cheaply.
type Slot struct {
	h    *Hasher
	done bool
}

// Reserve waits for a slot, briefly, or fails with ErrBusy.
func (h *Hasher) Reserve(ctx context.Context) (*Slot, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	return &Slot{h: h}, nil
}

// Release gives the slot back; further calls do nothing.
func (s *Slot) Release() {
	if !s.done {
		s.done = true
		s.h.release()
	}
}

// Hash returns the PHC string of password with a fresh salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
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
