// Package auth signs people up and in: argon2id password hashing under a
// CPU-sized bound, throttling of failed logins per account and per client
// IP kept in the database, and identical work and answers for unknown users
// and wrong passwords.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/connectbook/connectbook/internal/data"
)

// ErrInvalidCredentials is the one answer to an unknown username and to a
// wrong password.
var ErrInvalidCredentials = errors.New("auth: invalid username or password")

// ThrottledError means the login was refused without checking the password
// because of earlier failures.
type ThrottledError struct {
	RetryAfter time.Duration
	Scope      string // data.ScopeAccount or data.ScopeIP
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: too many failed logins for this %s; retry in %v", e.Scope, e.RetryAfter)
}

// Policy is a throttling rule: after Free failures, each attempt must wait
// Base, doubling with each further failure, up to Max. A failure more than
// Window after the previous one starts the count again.
type Policy struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Window time.Duration
}

// Delay returns the wait imposed after n failures.
func (p Policy) Delay(n int) time.Duration {
	if n < p.Free {
		return 0
	}
	d := p.Base
	for i := p.Free; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// The default policies. Failures count three ways:
//
//   - per account and client network: one attacker guessing one account
//     waits up to 15 minutes, while the account's owner, elsewhere, does not;
//   - per client network (an IPv4 address, or an IPv6 /64): one attacker
//     guessing many accounts waits up to 15 minutes;
//   - per account from anywhere, with a high allowance: a guess spread over
//     many networks waits at most a minute. Only such a spread attack slows
//     the owner down, and never for longer than a minute at a time.
var (
	AccountIPPolicy = Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute, Window: time.Hour}
	IPPolicy        = Policy{Free: 10, Base: time.Second, Max: 15 * time.Minute, Window: time.Hour}
	AccountPolicy   = Policy{Free: 50, Base: time.Second, Max: time.Minute, Window: time.Hour}
)

// Limits on what succeeds, so that a client that signs in to its own
// account in a loop, or creates accounts, cannot spend the server's
// hashing on it: after Free successful sign-ins within Window, to one
// account or from one client network, the next must wait (doubling up to
// Max); after SignUpsPerHour accounts from one network, the next sign-up
// waits for the hour to pass since the last.
var (
	SignInAccountPolicy = Policy{Free: 40, Base: 30 * time.Second, Max: 10 * time.Minute, Window: 10 * time.Minute}
	// From anywhere, an account gets five times as many: enough that
	// someone else signing in to it cannot keep its owner out for long
	// (and confirming the password is never limited), while a loop spread
	// over many networks still stops.
	SignInAnyNetPolicy  = Policy{Free: 200, Base: 10 * time.Second, Max: time.Minute, Window: 10 * time.Minute}
	SignInNetworkPolicy = Policy{Free: 120, Base: 10 * time.Second, Max: 10 * time.Minute, Window: 10 * time.Minute}
)

// DefaultSignUpsPerHour is how many accounts one client network may create
// in an hour.
const DefaultSignUpsPerHour = 10

// Service authenticates against the users in DB.
type Service struct {
	DB        *data.DB
	Hasher    *Hasher
	Now       func() time.Time
	AccountIP Policy
	IP        Policy
	Account   Policy
	// SignInAccount (one account from one network), SignInAnyNet (one
	// account from anywhere) and SignInNetwork (one network, any account)
	// limit successful sign-ins.
	SignInAccount Policy
	SignInAnyNet  Policy
	SignInNetwork Policy
	// SignUpsPerHour limits sign-ups per client network (negative: no
	// limit).
	SignUpsPerHour int
	// OnThrottled, if set, is told the scope of each attempt a throttle
	// refuses.
	OnThrottled func(scope string)

	afterRead func() // tests: runs between reading and counting failures
}

// throttled returns the error of an attempt refused by the throttle of
// that scope, and tells OnThrottled.
func (s *Service) throttled(wait time.Duration, scope string) error {
	if s.OnThrottled != nil {
		s.OnThrottled(scope)
	}
	return &ThrottledError{RetryAfter: wait, Scope: scope}
}

// NewService returns a Service with the default hashing parameters and
// throttling policies.
func NewService(db *data.DB) *Service {
	return &Service{DB: db, Hasher: NewHasher(DefaultParams), Now: time.Now,
		AccountIP: AccountIPPolicy, IP: IPPolicy, Account: AccountPolicy,
		SignInAccount: SignInAccountPolicy, SignInAnyNet: SignInAnyNetPolicy, SignInNetwork: SignInNetworkPolicy,
		SignUpsPerHour: DefaultSignUpsPerHour}
}

// Principal is who a password check proved the client to be: the user, and
// the credential epoch read together with the hash that was verified.
type Principal struct {
	UserID   int64
	Username string
	Epoch    int64
}

// SignUp creates an account. Problems with the input are *InputError.
func (s *Service) SignUp(ctx context.Context, username, password, confirm string) (data.User, error) {
	// A client network past its sign-ups for the hour (ForClient), or its
	// group of networks (an IPv6 /48, an IPv4 /24) past five times as
	// many, gets a *ThrottledError of scope data.ScopeSignUp.
	c := clientOf(ctx)
	keys := []data.FailureKey{{Scope: data.ScopeSignUp, Subject: c.net}, {Scope: data.ScopeSignUp, Subject: "group " + c.group}}
	limits := []Policy{
		{Free: s.SignUpsPerHour, Base: time.Hour, Max: time.Hour, Window: time.Hour},
		{Free: 5 * s.SignUpsPerHour, Base: time.Hour, Max: time.Hour, Window: time.Hour},
	}
	limited := c.net != "" && s.SignUpsPerHour >= 0
	if limited {
		prior, err := s.DB.LoginFailures(ctx, keys...)
		if err != nil {
			return data.User{}, err
		}
		for i, f := range prior {
			if wait := until(f, limits[i], s.Now()); wait > 0 {
				return data.User{}, s.throttled(wait, data.ScopeSignUp)
			}
		}
	}
	// The input after the limit: a network past it learns so before it
	// fixes a password it could not use anyway.
	u, err := NormalizeUsername(username)
	if err != nil {
		return data.User{}, err
	}
	if err := CheckNewPassword(password, confirm, u); err != nil {
		return data.User{}, err
	}
	hash, err := s.Hasher.Hash(ctx, NormalizePassword(password))
	if err != nil {
		return data.User{}, err
	}
	user, err := s.DB.CreateUser(ctx, u, u, hash, s.Now())
	if errors.Is(err, data.ErrExists) { // the username is the only unique key
		return data.User{}, &InputError{"username", "That username is taken. Please choose another."}
	}
	if err == nil && limited {
		for i, k := range keys {
			if _, err := s.DB.RecordLoginFailure(ctx, k.Scope, k.Subject, s.Now(), limits[i].Window); err != nil {
				return user, err
			}
		}
	}
	return user, err
}

// throttleSubject bounds what an arbitrary username adds to the database.
func throttleSubject(username string) string {
	return data.Text(strings.ToLower(username), 64)
}

// clientNetwork is what failures from one client are counted under: the
// IPv4 address, or the IPv6 /64 (one host commonly has a whole /64).
func clientNetwork(clientIP string) string {
	ip, err := netip.ParseAddr(clientIP)
	if err != nil {
		return throttleSubject(clientIP)
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// clientGroup is the group of networks one party commonly holds, which
// the Hasher gives turns to: the IPv4 /24, or the IPv6 /48.
func clientGroup(clientIP string) string {
	ip, err := netip.ParseAddr(clientIP)
	if err != nil {
		return throttleSubject(clientIP)
	}
	ip = ip.Unmap()
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p.String()
}

// Login checks a username and password from clientIP. It returns who
// signed in, ErrInvalidCredentials (unknown user or wrong password, after
// the same work), *ThrottledError, or ErrBusy. Every attempt counts toward
// throttling, also when it re-authenticates a signed-in user.
func (s *Service) Login(ctx context.Context, username, password, clientIP string) (Principal, error) {
	return s.login(ctx, username, password, clientIP, true)
}

// Reauthenticate is Login for a user who is signed in already and confirms
// the password (before a sensitive action): failures count and are
// throttled alike, but successes are not limited, so that nobody who
// signs in to the account elsewhere can keep its owner from changing the
// password or signing sessions out.
func (s *Service) Reauthenticate(ctx context.Context, username, password, clientIP string) (Principal, error) {
	return s.login(ctx, username, password, clientIP, false)
}

func (s *Service) login(ctx context.Context, username, password, clientIP string, limitSuccess bool) (Principal, error) {
	// Capacity first, the client network's share of it: past it, refuse
	// before touching the database.
	ctx = ForClient(ctx, clientIP)
	slot, err := s.Hasher.Reserve(ctx)
	if err != nil {
		return Principal{}, err
	}
	defer slot.Release()
	account, network := throttleSubject(username), clientNetwork(clientIP)
	keys := []data.FailureKey{
		{Scope: data.ScopeAccountIP, Subject: account + " " + network},
		{Scope: data.ScopeIP, Subject: network},
		{Scope: data.ScopeAccount, Subject: account},
	}
	policies := []Policy{s.AccountIP, s.IP, s.Account}
	// Successful sign-ins count too, after the failures: to one account
	// from one network (so that signing in elsewhere cannot lock the
	// owner out), and from one network to any account.
	var successes []data.FailureKey
	var successPolicies []Policy
	if limitSuccess {
		successes = []data.FailureKey{
			{Scope: data.ScopeSignInAccount, Subject: account + " " + network},
			{Scope: data.ScopeSignInAnyNet, Subject: account},
			{Scope: data.ScopeSignInNetwork, Subject: network},
		}
		successPolicies = []Policy{s.SignInAccount, s.SignInAnyNet, s.SignInNetwork}
	}
	now := s.Now()
	prior, err := s.DB.LoginFailures(ctx, append(keys[:len(keys):len(keys)], successes...)...)
	if err != nil {
		return Principal{}, err
	}
	for i, f := range prior {
		p, k := policyOf(i, policies, successPolicies), keyOf(i, keys, successes)
		if wait := until(f, p, now); wait > 0 {
			return Principal{}, s.throttled(wait, k.Scope)
		}
	}
	prior = prior[:len(keys)]
	if s.afterRead != nil {
		s.afterRead()
	}
	// Count the attempt before checking it, so that attempts made in
	// parallel see each other: past the free allowance, only the first of
	// them is checked.
	for i, k := range keys {
		n, err := s.DB.RecordLoginFailure(ctx, k.Scope, k.Subject, now, policies[i].Window)
		if err != nil {
			return Principal{}, err
		}
		expected := 1
		if f := prior[i]; f.Count > 0 && now.Sub(f.Last) <= policies[i].Window {
			expected = f.Count + 1
		}
		if n > expected {
			if wait := policies[i].Delay(n - 1); wait > 0 {
				return Principal{}, s.throttled(wait, k.Scope)
			}
		}
	}

	user, ok, legacy, err := s.check(ctx, slot, username, password)
	slot.Release()
	if err != nil {
		return Principal{}, err
	}
	if !ok {
		// The account whose password was wrong, if there is one, for the
		// caller's records (never for the client: the answer is the same).
		return Principal{UserID: user.UserID, Username: user.Username}, ErrInvalidCredentials
	}
	// The attempt succeeded: from this network the account starts afresh,
	// and the attempt no longer counts against the network or the account.
	if err := s.DB.ClearLoginFailures(ctx, keys[0].Scope, keys[0].Subject); err != nil {
		return Principal{}, err
	}
	for _, k := range keys[1:] {
		if err := s.DB.ForgiveLoginFailure(ctx, k.Scope, k.Subject); err != nil {
			return Principal{}, err
		}
	}
	for i, k := range successes {
		if _, err := s.DB.RecordLoginFailure(ctx, k.Scope, k.Subject, now, successPolicies[i].Window); err != nil {
			return Principal{}, err
		}
	}
	if legacy || s.Hasher.NeedsRehash(user.PasswordHash) {
		if hash, err := s.Hasher.Hash(ctx, NormalizePassword(password)); err == nil {
			s.DB.RehashPassword(ctx, user.UserID, user.PasswordHash, hash) // best effort; the login stands
		}
	}
	return Principal{UserID: user.UserID, Username: user.Username, Epoch: user.Epoch}, nil
}

// check verifies the password, doing the same work whether or not the
// user exists. legacy reports a hash of the password as typed rather than
// of its NFC form.
func (s *Service) check(ctx context.Context, slot *Slot, username, password string) (user data.Credentials, ok, legacy bool, err error) {
	u, err := NormalizeUsername(username)
	if err == nil {
		user, err = s.DB.CredentialsByUsername(ctx, u)
	}
	if err != nil {
		var ie *InputError
		if !errors.Is(err, data.ErrNotFound) && !errors.As(err, &ie) {
			return data.Credentials{}, false, false, err
		}
		slot.verifyDummyTyped(password)
		return data.Credentials{}, false, false, nil
	}
	if len(password) > MaxPasswordBytes || !utf8.ValidString(password) {
		slot.verifyDummyTyped(password)
		return data.Credentials{}, false, false, nil
	}
	ok, legacy, err = slot.verifyTyped(user.PasswordHash, password)
	return user, ok, legacy, err
}

// policyOf and keyOf return the policy and key of the i-th record of
// failures followed by successes.
func policyOf(i int, failures, successes []Policy) Policy {
	if i < len(failures) {
		return failures[i]
	}
	return successes[i-len(failures)]
}

func keyOf(i int, failures, successes []data.FailureKey) data.FailureKey {
	if i < len(failures) {
		return failures[i]
	}
	return successes[i-len(failures)]
}

func until(f data.Failures, p Policy, now time.Time) time.Duration {
	if f.Count == 0 || now.Sub(f.Last) > p.Window {
		return 0
	}
	return f.Last.Add(p.Delay(f.Count)).Sub(now)
}

// SetPassword changes a user's password after checking it, and returns the
// new credential epoch: every session issued before is dead.
func (s *Service) SetPassword(ctx context.Context, user data.User, password, confirm string) (int64, error) {
	if err := CheckNewPassword(password, confirm, user.Username); err != nil {
		return 0, err
	}
	hash, err := s.Hasher.Hash(ctx, NormalizePassword(password))
	if err != nil {
		return 0, err
	}
	return s.DB.SetPassword(ctx, user.ID, hash, s.Now())
}
