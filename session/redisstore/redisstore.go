// Package redisstore keeps sessions in Redis (7.0 or later) through
// github.com/redis/go-redis/v9.
//
// Each session is one hash keyed by the SHA-256 of its token; the token
// itself is never stored. With the default prefix the keys are:
//
//	cb:session:s:<hex id>  hash: the session's fields; times are integer
//	                       microseconds since the Unix epoch. It expires at
//	                       the absolute deadline.
//	cb:session:u:<user id> set: hex ids of the user's sessions. Its expiry
//	                       is pushed out to the latest absolute deadline of
//	                       its members.
//	cb:session:expiry      sorted set: "<hex id>:<user id>" scored by the
//	                       earlier deadline, for DeleteExpired. The user id
//	                       is in the member so that a session Redis already
//	                       expired can still be taken out of its user's set.
//	cb:session:e:<hex id>  hash: the Ending of a session deleted with a
//	                       reason (user_id, at, why, and the session's
//	                       abs_deadline). It expires when the session's key
//	                       would have.
//	cb:session:endings     sorted set: hex ids of endings scored by their
//	                       session's absolute deadline, so that
//	                       DeleteExpired forgets them at the caller's now.
//	cb:session:store_id    string: the store's identity (Store.Identity),
//	                       without expiry.
//
// Hashes written before a field existed (epoch, method, auth_at) load with
// that field's zero value.
//
// Every operation is one round trip. Those that touch several keys or are
// conditional run as one Lua script, so they are atomic, and no write after
// Create can re-create a session that is gone. Deadlines are compared as
// exact integers, not Lua doubles.
//
// Redis removes a session's key at its absolute deadline by itself; the
// indexes catch up in List, DeleteAllForUser and DeleteExpired, so
// DeleteExpired should run periodically (the Manager's sweeper does).
//
// The Redis server must not evict keys (maxmemory-policy noeviction, the
// default): an evicted user set would let a revocation miss sessions, and
// an evicted session hash would log its user out. Store.Check verifies it.
// With replicas, a failover can lose writes not yet replicated, a logout
// among them; deployments that fail over should also replicate
// synchronously enough for that (for instance WAIT in a client hook).
//
// Scripts derive the user set's key from the session hash, so all keys must
// live on one node: with Redis Cluster the prefix must carry a hash tag,
// such as "{cb:session}:".
package redisstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/connectbook/connectbook/session"
)

// DefaultPrefix is the key prefix used when Options.Prefix is empty.
const DefaultPrefix = "cb:session:"

// Options configure a Store.
type Options struct {
	// Prefix starts the name of every key the store uses; DefaultPrefix if
	// empty. It must not contain spaces or control characters.
	Prefix string
}

// Store is a session.Store on Redis.
type Store struct {
	c       redis.UniversalClient
	prefix  string
	expiry  string // key of the sorted set of deadlines
	endings string // key of the sorted set of endings
}

var _ session.Store = (*Store)(nil)

// New returns a Store on client. The caller keeps ownership of client.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !utf8.ValidString(prefix) || strings.IndexFunc(prefix, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0 {
		return nil, fmt.Errorf("redisstore: invalid prefix %q", prefix)
	}
	if _, ok := client.(*redis.ClusterClient); ok && !hasHashTag(prefix) {
		return nil, fmt.Errorf("redisstore: prefix %q needs a hash tag such as {cb:session} on Redis Cluster", prefix)
	}
	return &Store{c: client, prefix: prefix, expiry: prefix + "expiry", endings: prefix + "endings"}, nil
}

// hasHashTag reports whether Redis Cluster would hash every key starting
// with prefix by the same non-empty tag.
func hasHashTag(prefix string) bool {
	open := strings.IndexByte(prefix, '{')
	if open < 0 {
		return false
	}
	end := strings.IndexByte(prefix[open+1:], '}')
	return end > 0
}

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) sessionKey(id session.ID) string { return s.prefix + "s:" + id.String() }

func (s *Store) userKey(userID string) string { return s.prefix + "u:" + userID }

func (s *Store) endingKey(id session.ID) string { return s.prefix + "e:" + id.String() }

// Hash fields, in the order Find and List return them. Every session hash
// has the first eight (required); the others came later, and hashes
// written before them lack them.
var fields = [...]string{"user_id", "created_at", "last_seen_at", "idle_deadline", "abs_deadline", "created_ip", "user_agent", "last_ip",
	"epoch", "method", "auth_at"}

const required = 8

// fieldArgs holds fields already boxed, which spares Find an allocation per
// field.
var fieldArgs = func() []any {
	a := make([]any, len(fields))
	for i, f := range fields {
		a[i] = f
	}
	return a
}()

// lib is prepended to every script. Times travel as canonical decimal
// strings (strconv.FormatInt) and are compared exactly, since Lua numbers are
// doubles.
const lib = `
local function lt(a, b)
  local na, nb = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
  if na ~= nb then return na end
  if na then a, b = string.sub(b, 2), string.sub(a, 2) end
  if #a ~= #b then return #a < #b end
  return a < b
end
local function earlier(a, b)
  if lt(b, a) then return b end
  return a
end
local function corrupt(key)
  return redis.error_reply('ERR corrupt session hash ' .. key)
end
`

// createScript: KEYS session, user set, expiry; ARGV hex id, the first
// eight fields, absolute deadline in ms (rounded up, so the key outlives the
// session's last valid instant), epoch, method, auth_at.
//
// A deadline that has already passed on the server's clock cannot be a TTL
// (PEXPIREAT would delete the key at once, so Find could not return it): such
// a session is kept without one, and its user set too, until DeleteExpired.
var createScript = redis.NewScript(lib + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'user_id', ARGV[2], 'created_at', ARGV[3], 'last_seen_at', ARGV[4],
  'idle_deadline', ARGV[5], 'abs_deadline', ARGV[6], 'created_ip', ARGV[7], 'user_agent', ARGV[8], 'last_ip', ARGV[9],
  'epoch', ARGV[11], 'method', ARGV[12], 'auth_at', ARGV[13])
local t = redis.call('TIME')
local nowms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local absms = tonumber(ARGV[10])
local fresh = redis.call('EXISTS', KEYS[2]) == 0
redis.call('SADD', KEYS[2], ARGV[1])
if absms > nowms then
  redis.call('PEXPIREAT', KEYS[1], ARGV[10])
  local ttl = redis.call('PEXPIRETIME', KEYS[2])
  if fresh or (ttl >= 0 and ttl < absms) then
    redis.call('PEXPIREAT', KEYS[2], ARGV[10])
  end
else
  redis.call('PERSIST', KEYS[2])
end
redis.call('ZADD', KEYS[3], earlier(ARGV[5], ARGV[6]), ARGV[1] .. ':' .. ARGV[2])
return 1
`)

// touchScript: KEYS session, expiry; ARGV hex id, now, idle deadline, last
// IP, seen before. Returns 0 when the session is gone or not valid at now,
// 2 when it was touched after seen before (nothing written), 1 when touched.
var touchScript = redis.NewScript(lib + `
local f = redis.call('HMGET', KEYS[1], 'user_id', 'idle_deadline', 'abs_deadline', 'last_seen_at')
if not f[1] and not f[2] and not f[3] and not f[4] then return 0 end
if not (f[1] and f[2] and f[3] and f[4]) then return corrupt(KEYS[1]) end
if not (lt(ARGV[2], f[2]) and lt(ARGV[2], f[3])) then return 0 end
if lt(ARGV[5], f[4]) then return 2 end
redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[2], 'idle_deadline', ARGV[3], 'last_ip', ARGV[4])
redis.call('ZADD', KEYS[2], 'XX', earlier(ARGV[3], f[3]), ARGV[1] .. ':' .. f[1])
return 1
`)

// rotateScript: KEYS old session, new session, expiry; ARGV old hex id, new
// hex id, now, prefix, auth_at, epoch. Returns 1 when moved, 0 when old is
// gone or no longer valid, -1 when new is taken.
var rotateScript = redis.NewScript(lib + `
local f = redis.call('HMGET', KEYS[1], 'user_id', 'idle_deadline', 'abs_deadline')
if not f[1] and not f[2] and not f[3] then return 0 end
if not (f[1] and f[2] and f[3]) then return corrupt(KEYS[1]) end
if not (lt(ARGV[3], f[2]) and lt(ARGV[3], f[3])) then return 0 end
if KEYS[1] == KEYS[2] then
  redis.call('HSET', KEYS[1], 'auth_at', ARGV[5], 'epoch', ARGV[6])
  return 1
end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[2], 'auth_at', ARGV[5], 'epoch', ARGV[6])
local ukey = ARGV[4] .. 'u:' .. f[1]
-- Add before removing: an emptied set would be deleted, and re-created
-- without its expiry.
redis.call('SADD', ukey, ARGV[2])
redis.call('SREM', ukey, ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1] .. ':' .. f[1])
redis.call('ZADD', KEYS[3], earlier(f[2], f[3]), ARGV[2] .. ':' .. f[1])
return 1
`)

// rememberLib is prepended to the scripts that delete with a reason.
//
// remember stores the ending of the session at skey, which is about to be
// deleted, if why is set and the session's absolute deadline lies after
// at. The ending expires with the session's key: at its absolute deadline,
// rounded up to the millisecond. A key without a TTL had its deadline pass
// on the server's clock before it was created, so it leaves no ending.
const rememberLib = `
local function remember(skey, ekey, endings, hex, uid, abs, at, why)
  if why == '' or not abs or not lt(at, abs) then return end
  local ms = redis.call('PEXPIRETIME', skey)
  if ms < 0 then return end
  redis.call('HSET', ekey, 'user_id', uid, 'at', at, 'why', why, 'abs_deadline', abs)
  redis.call('PEXPIREAT', ekey, string.format('%d', ms))
  redis.call('ZADD', endings, abs, hex)
end
`

// deleteScript: KEYS session, expiry, ending, endings; ARGV hex id,
// prefix, now, why, and for DeleteForUser the user id the session must
// belong to.
var deleteScript = redis.NewScript(lib + rememberLib + `
local f = redis.call('HMGET', KEYS[1], 'user_id', 'abs_deadline')
local u = f[1]
if not u then
  -- A hash without an owner is corrupt; plain Delete still removes it.
  if #ARGV == 4 then return redis.call('DEL', KEYS[1]) end
  return 0
end
if #ARGV == 5 and u ~= ARGV[5] then return 0 end
remember(KEYS[1], KEYS[3], KEYS[4], ARGV[1], u, f[2], ARGV[3], ARGV[4])
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[2] .. 'u:' .. u, ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1] .. ':' .. u)
return 1
`)

// deleteAllScript: KEYS user set, expiry, endings; ARGV prefix, user id,
// hex id to keep ("" for none), now, why.
var deleteAllScript = redis.NewScript(lib + rememberLib + `
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if m ~= ARGV[3] then
    local skey = ARGV[1] .. 's:' .. m
    local f = redis.call('HMGET', skey, 'user_id', 'abs_deadline')
    if f[1] == ARGV[2] then
      remember(skey, ARGV[1] .. 'e:' .. m, KEYS[3], m, ARGV[2], f[2], ARGV[4], ARGV[5])
      redis.call('DEL', skey)
      n = n + 1
    end
    -- Gone already, or now another user's: either way not ours to keep.
    redis.call('SREM', KEYS[1], m)
    redis.call('ZREM', KEYS[2], m .. ':' .. ARGV[2])
  end
end
return n
`)

// listScript: KEYS user set, expiry; ARGV prefix, user id, now. Returns the
// hex id and the eleven fields of each session valid at now (false, that
// is nil, for a missing later field).
var listScript = redis.NewScript(lib + `
local out = {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local skey = ARGV[1] .. 's:' .. m
  local f = redis.call('HMGET', skey, 'user_id', 'created_at', 'last_seen_at', 'idle_deadline',
    'abs_deadline', 'created_ip', 'user_agent', 'last_ip', 'epoch', 'method', 'auth_at')
  if f[1] ~= ARGV[2] then
    redis.call('SREM', KEYS[1], m)
    redis.call('ZREM', KEYS[2], m .. ':' .. ARGV[2])
  else
    for i = 2, 8 do
      if not f[i] then return corrupt(skey) end
    end
    if lt(ARGV[3], f[4]) and lt(ARGV[3], f[5]) then
      table.insert(out, m)
      for i = 1, 11 do table.insert(out, f[i]) end
    end
  end
end
return out
`)

// sweepScript: KEYS expiry, endings; ARGV prefix, now, limit. Returns the
// number of sessions deleted. Besides, it forgets every ending past its
// deadline, however many: most were expired by Redis already and cost a
// ZREM each, and leaving some for later would leave them answering Ended.
var sweepScript = redis.NewScript(lib + `
local n = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])) do
  local hex, uid = string.sub(m, 1, 64), string.sub(m, 66)
  local skey = ARGV[1] .. 's:' .. hex
  local f = redis.call('HMGET', skey, 'user_id', 'idle_deadline', 'abs_deadline')
  if f[1] == uid and f[2] and f[3] then
    local e = earlier(f[2], f[3])
    if lt(ARGV[2], e) then
      -- The score is behind the hash (a double that rounded): correct it.
      redis.call('ZADD', KEYS[1], e, m)
    else
      redis.call('DEL', skey)
      n = n + 1
      redis.call('SREM', ARGV[1] .. 'u:' .. uid, hex)
      redis.call('ZREM', KEYS[1], m)
    end
  else
    -- Expired by Redis already, now another user's, or corrupt: drop the
    -- index entries, leave any key alone.
    if f[1] ~= uid then redis.call('SREM', ARGV[1] .. 'u:' .. uid, hex) end
    redis.call('ZREM', KEYS[1], m)
  end
end
-- In batches, to bound the reply; an entry kept stays first in the range.
local kept = 0
while true do
  local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', kept, 1000)
  if #due == 0 then break end
  for _, hex in ipairs(due) do
    local ekey = ARGV[1] .. 'e:' .. hex
    local d = redis.call('HGET', ekey, 'abs_deadline')
    if d and lt(ARGV[2], d) then
      -- The score is behind the deadline (a double that rounded).
      kept = kept + 1
    else
      -- Past its deadline, or expired by Redis already.
      redis.call('DEL', ekey)
      redis.call('ZREM', KEYS[2], hex)
    end
  end
end
return n
`)

func (s *Store) Create(ctx context.Context, ss session.Session) error {
	n, err := createScript.Run(ctx, s.c, []string{s.sessionKey(ss.ID), s.userKey(ss.UserID), s.expiry},
		ss.ID.String(), ss.UserID, micros(ss.CreatedAt), micros(ss.LastSeenAt), micros(ss.IdleDeadline),
		micros(ss.AbsoluteDeadline), ss.CreatedIP, ss.UserAgent, ss.LastIP, ceilMillis(ss.AbsoluteDeadline),
		ss.Epoch, ss.Method, micros(ss.AuthAt)).Int()
	if err != nil {
		return mapErr(err)
	}
	if n == 0 {
		return session.ErrExists
	}
	return nil
}

func (s *Store) Find(ctx context.Context, id session.ID) (session.Session, error) {
	args := make([]any, 2, 2+len(fields))
	args[0], args[1] = "hmget", s.sessionKey(id)
	cmd := redis.NewSliceCmd(ctx, append(args, fieldArgs...)...)
	_ = s.c.Process(ctx, cmd)
	vals, err := cmd.Result()
	if err != nil {
		return session.Session{}, mapErr(err)
	}
	missing := 0
	for _, v := range vals {
		if v == nil {
			missing++
		}
	}
	if missing == len(vals) {
		return session.Session{}, session.ErrNotFound
	}
	return parse(id, vals)
}

func (s *Store) Touch(ctx context.Context, id session.ID, now, seenBefore, idleDeadline time.Time, lastIP string) error {
	return found(touchScript.Run(ctx, s.c, []string{s.sessionKey(id), s.expiry},
		id.String(), micros(now), micros(idleDeadline), lastIP, micros(seenBefore)).Int())
}

func (s *Store) Rotate(ctx context.Context, oldID, newID session.ID, now, authAt time.Time, epoch int64) error {
	n, err := rotateScript.Run(ctx, s.c, []string{s.sessionKey(oldID), s.sessionKey(newID), s.expiry},
		oldID.String(), newID.String(), micros(now), s.prefix, micros(authAt), epoch).Int()
	if err == nil && n < 0 {
		return session.ErrExists
	}
	return found(n, err)
}

func (s *Store) Delete(ctx context.Context, id session.ID, now time.Time, why string) error {
	return found(deleteScript.Run(ctx, s.c, []string{s.sessionKey(id), s.expiry, s.endingKey(id), s.endings},
		id.String(), s.prefix, micros(now), why).Int())
}

func (s *Store) DeleteForUser(ctx context.Context, userID string, id session.ID, now time.Time, why string) error {
	return found(deleteScript.Run(ctx, s.c, []string{s.sessionKey(id), s.expiry, s.endingKey(id), s.endings},
		id.String(), s.prefix, micros(now), why, userID).Int())
}

func (s *Store) DeleteAllForUser(ctx context.Context, userID string, except session.ID, now time.Time, why string) (int, error) {
	keep := ""
	if !except.IsZero() {
		keep = except.String()
	}
	n, err := deleteAllScript.Run(ctx, s.c, []string{s.userKey(userID), s.expiry, s.endings},
		s.prefix, userID, keep, micros(now), why).Int()
	if err != nil {
		return 0, mapErr(err)
	}
	return n, nil
}

func (s *Store) Ended(ctx context.Context, id session.ID) (session.Ending, error) {
	vals, err := s.c.HMGet(ctx, s.endingKey(id), "user_id", "at", "why").Result()
	if err != nil {
		return session.Ending{}, mapErr(err)
	}
	if vals[0] == nil && vals[1] == nil && vals[2] == nil {
		return session.Ending{}, session.ErrNotFound
	}
	userID, ok1 := vals[0].(string)
	at, ok2 := vals[1].(string)
	why, ok3 := vals[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return session.Ending{}, fmt.Errorf("redisstore: corrupt ending %s: a field is missing", id.Short())
	}
	us, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return session.Ending{}, fmt.Errorf("redisstore: corrupt ending %s: field at: %w", id.Short(), err)
	}
	return session.Ending{UserID: userID, At: fromMicros(us), Why: why}, nil
}

func (s *Store) List(ctx context.Context, userID string, now time.Time) ([]session.Session, error) {
	vals, err := listScript.Run(ctx, s.c, []string{s.userKey(userID), s.expiry}, s.prefix, userID, micros(now)).Slice()
	if err != nil {
		return nil, mapErr(err)
	}
	width := 1 + len(fields) // hex id, then the fields
	if len(vals)%width != 0 {
		return nil, fmt.Errorf("redisstore: list returned %d values", len(vals))
	}
	list := make([]session.Session, 0, len(vals)/width)
	for i := 0; i < len(vals); i += width {
		hex, _ := vals[i].(string)
		id, err := session.ParseID(hex)
		if err != nil {
			return nil, fmt.Errorf("redisstore: corrupt member %q of %s: %w", hex, s.userKey(userID), err)
		}
		ss, err := parse(id, vals[i+1:i+width])
		if err != nil {
			return nil, err
		}
		list = append(list, ss)
	}
	slices.SortFunc(list, func(a, b session.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return list, nil
}

func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n, err := sweepScript.Run(ctx, s.c, []string{s.expiry, s.endings}, s.prefix, micros(now), limit).Int()
	if err != nil {
		return 0, mapErr(err)
	}
	return n, nil
}

// parse builds a session from the values of fields, in order. A missing
// later field (a hash written before it existed) is the zero value.
func parse(id session.ID, vals []any) (session.Session, error) {
	var str [len(fields)]string
	var has [len(fields)]bool
	for i, v := range vals {
		sv, ok := v.(string)
		if !ok && (v != nil || i < required) {
			return session.Session{}, fmt.Errorf("redisstore: corrupt session %s: field %s is %T", id.Short(), fields[i], v)
		}
		str[i], has[i] = sv, ok
	}
	var times [4]time.Time
	for i := range times {
		us, err := strconv.ParseInt(str[1+i], 10, 64)
		if err != nil {
			return session.Session{}, fmt.Errorf("redisstore: corrupt session %s: field %s: %w", id.Short(), fields[1+i], err)
		}
		times[i] = fromMicros(us)
	}
	var epoch int64
	if has[8] {
		var err error
		if epoch, err = strconv.ParseInt(str[8], 10, 64); err != nil {
			return session.Session{}, fmt.Errorf("redisstore: corrupt session %s: field %s: %w", id.Short(), fields[8], err)
		}
	}
	var authAt time.Time
	if has[10] {
		us, err := strconv.ParseInt(str[10], 10, 64)
		if err != nil {
			return session.Session{}, fmt.Errorf("redisstore: corrupt session %s: field %s: %w", id.Short(), fields[10], err)
		}
		authAt = fromMicros(us)
	}
	return session.Session{
		ID:               id,
		UserID:           str[0],
		CreatedAt:        times[0],
		LastSeenAt:       times[1],
		IdleDeadline:     times[2],
		AbsoluteDeadline: times[3],
		CreatedIP:        str[5],
		UserAgent:        str[6],
		LastIP:           str[7],
		Epoch:            epoch,
		Method:           str[9],
		AuthAt:           authAt,
	}, nil
}

func micros(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// ceilMillis rounds up, so that the key never vanishes while the session is
// still valid.
func ceilMillis(t time.Time) int64 {
	us := t.UnixMicro()
	ms := us / 1000
	if us%1000 > 0 {
		ms++
	}
	return ms
}

// found turns a script's 1 or 0 into nil or session.ErrNotFound.
func found(n int, err error) error {
	if err != nil {
		return mapErr(err)
	}
	if n <= 0 {
		return session.ErrNotFound
	}
	return nil
}

// mapErr maps client errors onto the session package's sentinels.
func mapErr(err error) error {
	if errors.Is(err, redis.Nil) {
		return session.ErrNotFound
	}
	return fmt.Errorf("redisstore: %w", err)
}

// Identity returns the random ID of the Redis store behind s, so that a
// program can check it talks to the same store as another (an admin command
// and the server it administers). With create, a store without an ID gets
// one; without, a missing ID is session.ErrNotFound. The ID never expires.
func (s *Store) Identity(ctx context.Context, create bool) (string, error) {
	key := s.prefix + "store_id"
	if !create {
		id, err := s.c.Get(ctx, key).Result()
		if err != nil {
			return "", mapErr(err)
		}
		return checkIdentity(key, id)
	}
	var b [16]byte
	rand.Read(b[:])
	fresh := hex.EncodeToString(b[:])
	// One command: set it unless it exists, and return what was there.
	id, err := s.c.SetArgs(ctx, key, fresh, redis.SetArgs{Mode: "NX", Get: true}).Result()
	if errors.Is(err, redis.Nil) {
		return fresh, nil
	}
	if err != nil {
		return "", mapErr(err)
	}
	return checkIdentity(key, id)
}

func checkIdentity(key, id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("redisstore: corrupt store identity: %s is empty", key)
	}
	return id, nil
}

// Check verifies the server settings the store's guarantees rest on: the
// eviction policy must be noeviction. A server that refuses CONFIG GET (as
// some managed services do) is assumed to be configured correctly.
func (s *Store) Check(ctx context.Context) error {
	vals, err := s.c.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("redisstore: %w", err)
		}
		return nil
	}
	if policy, ok := vals["maxmemory-policy"]; ok && !evictionSafe(policy) {
		return fmt.Errorf("redisstore: the server's maxmemory-policy is %q; set it to noeviction, or an evicted index could let a revocation miss sessions", policy)
	}
	return nil
}

// evictionSafe reports whether a maxmemory-policy never evicts the store's
// keys.
func evictionSafe(policy string) bool { return policy == "noeviction" }
