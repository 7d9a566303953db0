// Package redisstore keeps sessions in Redis (7.0 or later) through
// github.com/redis/go-redis/v9.
//
// Each session is one hash keyed by the SHA-256 of its token; the token
// itself is never stored. With the default prefix the keys are:
//
//	cb:session:s:<hex id>  hash: the session's fields; times are integer
//	                       microseconds since the Unix epoch, the handle and
//	                       secret lowercase hex. It expires at the absolute
//	                       deadline.
//	cb:session:h:<handle>  string: the hex id the session with that handle
//	                       (in hex) is under now, for FindHandle. Create,
//	                       Renew and Rotate point it at the session's current
//	                       key, deletes and the sweep remove it with the
//	                       session, and it expires with the session's key.
//	                       FindHandle checks it against the hash it points
//	                       to, so a stale one is never believed.
//	cb:session:u:<user id> set: hex ids of the user's sessions. Its expiry
//	                       is pushed out to the latest absolute deadline of
//	                       its members.
//	cb:session:expiry      sorted set: "<hex id>:<user id>" scored by the
//	                       earlier deadline, for DeleteExpired. The user id
//	                       is in the member so that a session Redis already
//	                       expired can still be taken out of its user's set.
//	cb:session:e:<hex id>  hash: the Ending of a session deleted with a
//	                       reason, or of a token replaced by Renew (user_id,
//	                       at, why, the session's abs_deadline, and for a
//	                       replaced token handle, gen and seen, "1" if a
//	                       request had presented it and "0" if not; a link
//	                       written before seen existed reads as not
//	                       presented). It expires when the session's key
//	                       does.
//	cb:session:endings     sorted set: hex ids of endings scored by their
//	                       session's absolute deadline, so that
//	                       DeleteExpired forgets them at the caller's now.
//	cb:session:store_id    string: the store's identity (Store.Identity),
//	                       without expiry.
//
// Hashes written before a field existed load with a default: epoch 0, no
// method, no binding, generation 0 and nothing unbound, and their creation
// time as auth_at, seen_at and issued_at. The handle and secret cannot be
// derived, and must not change once read: the first read of a hash without
// them (Find, List, FindHandle, or a Renew or Rotate of it) fills them in
// with random values, in one script that writes them only if they are
// still missing and only if the session still exists, and points the
// handle key at the session. That read takes a second round trip, once in
// the life of such a session; concurrent first reads, from any instance,
// all return the values the first one wrote. Instances of the previous
// version still running during a rolling upgrade keep working, but their
// rotations leave the handle key behind, so FindHandle misses such a session
// until this version renews or rotates it.
//
// Every operation is one round trip. Those that touch several keys or are
// conditional run as one Lua script, so they are atomic, and no write after
// Create can re-create a session that is gone, nor its handle key.
// Deadlines and counters are compared as exact integers, not Lua doubles.
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
// Scripts derive the user set's key and the handle key from the session
// hash, and the session key from the handle key, so all keys must live on
// one node: with Redis Cluster the prefix must carry a hash tag, such as
// "{cb:session}:".
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

func (s *Store) handleKey(h session.Handle) string { return s.prefix + "h:" + h.String() }

// Hash fields, in the order Find and List return them. Every session hash
// has the first eight (required); the others came later, and hashes
// written before them lack them.
var fields = [...]string{"user_id", "created_at", "last_seen_at", "idle_deadline", "abs_deadline", "created_ip", "user_agent", "last_ip",
	"epoch", "method", "auth_at",
	"handle", "secret", "gen", "seen_gen", "seen_at", "issued_at", "bind_key", "bound_at", "bind_seq", "unbound"}

// Indexes into fields.
const (
	fUserID = iota
	fCreatedAt
	fLastSeenAt
	fIdleDeadline
	fAbsDeadline
	fCreatedIP
	fUserAgent
	fLastIP
	fEpoch
	fMethod
	fAuthAt
	fHandle
	fSecret
	fGen
	fSeenGen
	fSeenAt
	fIssuedAt
	fBindKey
	fBoundAt
	fBindSeq
	fUnbound
	nFields
)

const required = 8

// maxBindKey is the longest BindKey the store accepts, in bytes.
const maxBindKey = 4096

// fieldArgs holds fields already boxed, which spares Find an allocation per
// field.
var fieldArgs = func() []any {
	a := make([]any, len(fields))
	for i, f := range fields {
		a[i] = f
	}
	return a
}()

// script builds a script from lib and body, in which FIELDS stands for
// the quoted list of fields, in order, and NFIELDS for their number.
func script(body string) *redis.Script {
	quoted := make([]string, len(fields))
	for i, f := range fields {
		quoted[i] = "'" + f + "'"
	}
	body = strings.ReplaceAll(body, "NFIELDS", strconv.Itoa(len(fields)))
	body = strings.ReplaceAll(body, "FIELDS", strings.Join(quoted, ", "))
	return redis.NewScript(lib + body)
}

// lib is prepended to every script. Times and counters travel as canonical
// decimal strings (strconv.FormatInt) and are compared exactly, since Lua
// numbers are doubles.
//
// live reads the fields named in its arguments after user_id,
// idle_deadline and abs_deadline from skey, and returns them if the
// session exists and is valid at now; nil if not; nil and an error reply
// if the hash is corrupt.
//
// point makes the handle key of h name the session at skey (hex id hex),
// expiring with it; a key without a TTL (its deadline had passed on the
// server's clock when it was created) gives one without, for
// DeleteExpired to remove with the session. unpoint removes the handle key
// of h if it names hex. The zero handle names no session and has no key.
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
local function live(skey, now, ...)
  local f = redis.call('HMGET', skey, 'user_id', 'idle_deadline', 'abs_deadline', ...)
  if not f[1] and not f[2] and not f[3] then return nil end
  if not (f[1] and f[2] and f[3]) then return nil, corrupt(skey) end
  if not (lt(now, f[2]) and lt(now, f[3])) then return nil end
  return f
end
local zerohandle = string.rep('0', 32)
local function point(prefix, h, hex, skey)
  if not h or h == zerohandle then return end
  local hkey = prefix .. 'h:' .. h
  local ms = redis.call('PEXPIRETIME', skey)
  if ms > 0 then
    redis.call('SET', hkey, hex, 'PXAT', string.format('%d', ms))
  else
    redis.call('SET', hkey, hex)
  end
end
local function unpoint(prefix, h, hex)
  if not h or h == zerohandle then return end
  local hkey = prefix .. 'h:' .. h
  if redis.call('GET', hkey) == hex then redis.call('DEL', hkey) end
end
`

// createScript: KEYS session, user set, expiry; ARGV hex id, the first
// eight fields, absolute deadline in ms (rounded up, so the key outlives the
// session's last valid instant), epoch, method, auth_at, prefix, then the
// fields from handle on. Returns 1 when created, 0 when the ID is taken, -1
// when the handle names another session.
//
// A deadline that has already passed on the server's clock cannot be a TTL
// (PEXPIREAT would delete the key at once, so Find could not return it): such
// a session is kept without one, and its user set and handle key too, until
// DeleteExpired.
var createScript = script(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local h = ARGV[15]
if h ~= zerohandle then
  local cur = redis.call('GET', ARGV[14] .. 'h:' .. h)
  if cur and cur ~= ARGV[1] and redis.call('HGET', ARGV[14] .. 's:' .. cur, 'handle') == h then return -1 end
end
redis.call('HSET', KEYS[1], 'user_id', ARGV[2], 'created_at', ARGV[3], 'last_seen_at', ARGV[4],
  'idle_deadline', ARGV[5], 'abs_deadline', ARGV[6], 'created_ip', ARGV[7], 'user_agent', ARGV[8], 'last_ip', ARGV[9],
  'epoch', ARGV[11], 'method', ARGV[12], 'auth_at', ARGV[13],
  'handle', h, 'secret', ARGV[16], 'gen', ARGV[17], 'seen_gen', ARGV[18], 'seen_at', ARGV[19], 'issued_at', ARGV[20],
  'bind_key', ARGV[21], 'bound_at', ARGV[22], 'bind_seq', ARGV[23], 'unbound', ARGV[24])
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
point(ARGV[14], h, ARGV[1], KEYS[1])
redis.call('ZADD', KEYS[3], earlier(ARGV[5], ARGV[6]), ARGV[1] .. ':' .. ARGV[2])
return 1
`)

// upgradeScript: KEYS session; ARGV prefix, hex id, a fresh handle and
// secret. It gives a session written before handles and secrets existed
// the fresh ones, each only if it still lacks it, points the handle key at
// the session when it set the handle, and returns the session's fields, or
// nil if it is gone.
var upgradeScript = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if not redis.call('HGET', KEYS[1], 'user_id') then return corrupt(KEYS[1]) end
redis.call('HSETNX', KEYS[1], 'secret', ARGV[4])
if redis.call('HSETNX', KEYS[1], 'handle', ARGV[3]) == 1 then
  point(ARGV[1], ARGV[3], ARGV[2], KEYS[1])
end
return redis.call('HMGET', KEYS[1], FIELDS)
`)

// findHandleScript: KEYS handle key; ARGV prefix, handle. Returns the hex
// id and the fields of the session the key names if that session has the
// handle, or nil.
var findHandleScript = script(`
local hex = redis.call('GET', KEYS[1])
if not hex then return false end
local f = redis.call('HMGET', ARGV[1] .. 's:' .. hex, FIELDS)
if f[12] ~= ARGV[2] then return false end
local out = {hex}
for i = 1, NFIELDS do table.insert(out, f[i]) end
return out
`)

// touchScript: KEYS session, expiry; ARGV hex id, now, idle deadline, last
// IP, seen before. Returns 0 when the session is gone or not valid at now,
// 2 when it was touched after seen before (nothing written), 1 when touched.
var touchScript = script(`
local f = redis.call('HMGET', KEYS[1], 'user_id', 'idle_deadline', 'abs_deadline', 'last_seen_at')
if not f[1] and not f[2] and not f[3] and not f[4] then return 0 end
if not (f[1] and f[2] and f[3] and f[4]) then return corrupt(KEYS[1]) end
if not (lt(ARGV[2], f[2]) and lt(ARGV[2], f[3])) then return 0 end
if lt(ARGV[5], f[4]) then return 2 end
redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[2], 'idle_deadline', ARGV[3], 'last_ip', ARGV[4])
redis.call('ZADD', KEYS[2], 'XX', earlier(ARGV[3], f[3]), ARGV[1] .. ':' .. f[1])
return 1
`)

// moveLib is prepended to the scripts that move a session to a new ID.
//
// move renames the session from old to new (KEYS[1] to KEYS[2]) and moves
// its index entries; the expiry entry is scored by idle, the new idle
// deadline. ensure gives a session without a handle and secret the fresh
// ones, and returns its handle.
const moveLib = `
local function ensure(skey, h, fresh, secret)
  if h then return h end
  redis.call('HSETNX', skey, 'secret', secret)
  redis.call('HSET', skey, 'handle', fresh)
  return fresh
end
local function move(prefix, uid, oldhex, newhex, idle, abs)
  redis.call('RENAME', KEYS[1], KEYS[2])
  local ukey = prefix .. 'u:' .. uid
  -- Add before removing: an emptied set would be deleted, and re-created
  -- without its expiry.
  redis.call('SADD', ukey, newhex)
  redis.call('SREM', ukey, oldhex)
  redis.call('ZREM', KEYS[3], oldhex .. ':' .. uid)
  redis.call('ZADD', KEYS[3], earlier(idle, abs), newhex .. ':' .. uid)
end
`

// rotateScript: KEYS old session, new session, expiry; ARGV old hex id, new
// hex id, now, prefix, auth_at, epoch, a fresh handle and secret (used only
// for a session without them). Returns 1 when moved, 0 when old is gone or
// no longer valid, -1 when new is taken.
var rotateScript = script(moveLib + `
local f, err = live(KEYS[1], ARGV[3], 'handle')
if err then return err end
if not f then return 0 end
local same = KEYS[1] == KEYS[2]
if not same and redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local h = ensure(KEYS[1], f[4], ARGV[7], ARGV[8])
if not same then move(ARGV[4], f[1], ARGV[1], ARGV[2], f[2], f[3]) end
local g = string.format('%d', redis.call('HINCRBY', KEYS[2], 'gen', 1))
redis.call('HSET', KEYS[2], 'auth_at', ARGV[5], 'epoch', ARGV[6], 'seen_gen', g, 'issued_at', ARGV[3], 'seen_at', ARGV[3])
point(ARGV[4], h, ARGV[2], KEYS[2])
return 1
`)

// rememberLib is prepended to the scripts that leave endings.
//
// keep stores at ekey the ending of the session at skey with the given
// fields, if the session's absolute deadline lies after at. The ending
// expires with the session's key: at its absolute deadline, rounded up to
// the millisecond. A key without a TTL had its deadline pass on the
// server's clock before it was created, so it leaves no ending.
//
// remember keeps the ending of the session at skey, which is about to be
// deleted, if why is set.
const rememberLib = `
local function keep(skey, ekey, endings, hex, abs, at, ...)
  if not abs or not lt(at, abs) then return end
  local ms = redis.call('PEXPIRETIME', skey)
  if ms < 0 then return end
  redis.call('DEL', ekey)
  redis.call('HSET', ekey, 'at', at, 'abs_deadline', abs, ...)
  redis.call('PEXPIREAT', ekey, string.format('%d', ms))
  redis.call('ZADD', endings, abs, hex)
end
local function remember(skey, ekey, endings, hex, uid, abs, at, why)
  if why == '' then return end
  keep(skey, ekey, endings, hex, abs, at, 'user_id', uid, 'why', why)
end
`

// renewScript: KEYS old session, new session, expiry, old ending, endings;
// ARGV old hex id, new hex id, gen, now, idle deadline, last IP, prefix, a
// fresh handle and secret (used only for a session without them). Returns
// 1 when renewed, 0 when old is gone, no longer valid or of another
// generation, -1 when new is taken. The link records whether the old token
// had been presented: whether the session's seen_gen was its gen.
var renewScript = script(moveLib + rememberLib + `
local f, err = live(KEYS[1], ARGV[4], 'gen', 'handle', 'seen_gen')
if err then return err end
if not f or (f[4] or '0') ~= ARGV[3] then return 0 end
local seen = '0'
if (f[6] or '0') == ARGV[3] then seen = '1' end
if KEYS[1] == KEYS[2] or redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local h = ensure(KEYS[1], f[5], ARGV[8], ARGV[9])
move(ARGV[7], f[1], ARGV[1], ARGV[2], ARGV[5], f[3])
redis.call('HINCRBY', KEYS[2], 'gen', 1)
redis.call('HSET', KEYS[2], 'issued_at', ARGV[4], 'last_seen_at', ARGV[4], 'idle_deadline', ARGV[5], 'last_ip', ARGV[6])
point(ARGV[7], h, ARGV[2], KEYS[2])
keep(KEYS[2], KEYS[4], KEYS[5], ARGV[1], f[3], ARGV[4], 'user_id', f[1], 'why', '', 'handle', h, 'gen', ARGV[3], 'seen', seen)
return 1
`)

// seenScript: KEYS session; ARGV now, gen. Returns 1 when the session is
// valid at now (written or not), 0 otherwise.
var seenScript = script(`
local f, err = live(KEYS[1], ARGV[1], 'gen', 'seen_gen')
if err then return err end
if not f then return 0 end
if (f[4] or '0') == ARGV[2] and lt(f[5] or '0', ARGV[2]) then
  redis.call('HSET', KEYS[1], 'seen_gen', ARGV[2], 'seen_at', ARGV[1])
end
return 1
`)

// bindScript: KEYS session; ARGV now, seq, key. Returns 1 when it used
// the challenge (and bound the session to a key given), 0 otherwise.
var bindScript = script(`
local f, err = live(KEYS[1], ARGV[1], 'bind_seq', 'bind_key')
if err then return err end
if not f or (f[4] or '0') ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' then
  if f[5] and f[5] ~= '' then return 0 end
  redis.call('HSET', KEYS[1], 'bind_key', ARGV[3], 'bound_at', ARGV[1])
end
redis.call('HINCRBY', KEYS[1], 'bind_seq', 1)
return 1
`)

// noteUnboundScript: KEYS session; ARGV now. Returns the new count, or nil
// when the session is gone or not valid at now.
var noteUnboundScript = script(`
local f, err = live(KEYS[1], ARGV[1])
if err then return err end
if not f then return false end
return redis.call('HINCRBY', KEYS[1], 'unbound', 1)
`)

// deleteScript: KEYS session, expiry, ending, endings; ARGV hex id,
// prefix, now, why, and for DeleteForUser the user id the session must
// belong to.
var deleteScript = script(rememberLib + `
local f = redis.call('HMGET', KEYS[1], 'user_id', 'abs_deadline', 'handle')
local u = f[1]
if not u then
  -- A hash without an owner is corrupt; plain Delete still removes it.
  if #ARGV == 4 then
    unpoint(ARGV[2], f[3], ARGV[1])
    return redis.call('DEL', KEYS[1])
  end
  return 0
end
if #ARGV == 5 and u ~= ARGV[5] then return 0 end
remember(KEYS[1], KEYS[3], KEYS[4], ARGV[1], u, f[2], ARGV[3], ARGV[4])
redis.call('DEL', KEYS[1])
unpoint(ARGV[2], f[3], ARGV[1])
redis.call('SREM', ARGV[2] .. 'u:' .. u, ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1] .. ':' .. u)
return 1
`)

// deleteAllScript: KEYS user set, expiry, endings; ARGV prefix, user id,
// hex id to keep ("" for none), now, why.
var deleteAllScript = script(rememberLib + `
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if m ~= ARGV[3] then
    local skey = ARGV[1] .. 's:' .. m
    local f = redis.call('HMGET', skey, 'user_id', 'abs_deadline', 'handle')
    if f[1] == ARGV[2] then
      remember(skey, ARGV[1] .. 'e:' .. m, KEYS[3], m, ARGV[2], f[2], ARGV[4], ARGV[5])
      redis.call('DEL', skey)
      unpoint(ARGV[1], f[3], m)
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
// hex id and the fields of each session valid at now (false, that is nil,
// for a missing later field).
var listScript = script(`
local out = {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local skey = ARGV[1] .. 's:' .. m
  local f = redis.call('HMGET', skey, FIELDS)
  if f[1] ~= ARGV[2] then
    redis.call('SREM', KEYS[1], m)
    redis.call('ZREM', KEYS[2], m .. ':' .. ARGV[2])
  else
    for i = 2, 8 do
      if not f[i] then return corrupt(skey) end
    end
    if lt(ARGV[3], f[4]) and lt(ARGV[3], f[5]) then
      table.insert(out, m)
      for i = 1, NFIELDS do table.insert(out, f[i]) end
    end
  end
end
return out
`)

// sweepScript: KEYS expiry, endings; ARGV prefix, now, limit. Returns the
// number of sessions deleted. Besides, it forgets every ending past its
// deadline, however many: most were expired by Redis already and cost a
// ZREM each, and leaving some for later would leave them answering Ended.
var sweepScript = script(`
local n = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])) do
  local hex, uid = string.sub(m, 1, 64), string.sub(m, 66)
  local skey = ARGV[1] .. 's:' .. hex
  local f = redis.call('HMGET', skey, 'user_id', 'idle_deadline', 'abs_deadline', 'handle')
  if f[1] == uid and f[2] and f[3] then
    local e = earlier(f[2], f[3])
    if lt(ARGV[2], e) then
      -- The score is behind the hash (a double that rounded): correct it.
      redis.call('ZADD', KEYS[1], e, m)
    else
      redis.call('DEL', skey)
      unpoint(ARGV[1], f[4], hex)
      n = n + 1
      redis.call('SREM', ARGV[1] .. 'u:' .. uid, hex)
      redis.call('ZREM', KEYS[1], m)
    end
  else
    -- Expired by Redis already (its handle key with it), now another
    -- user's, or corrupt: drop the index entries, leave any key alone.
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

// Create stores ss as given. Besides a taken ID, it refuses with
// session.ErrExists a handle that names another session.
func (s *Store) Create(ctx context.Context, ss session.Session) error {
	if len(ss.BindKey) > maxBindKey {
		return fmt.Errorf("redisstore: bind key of %d bytes, more than %d", len(ss.BindKey), maxBindKey)
	}
	n, err := createScript.Run(ctx, s.c, []string{s.sessionKey(ss.ID), s.userKey(ss.UserID), s.expiry},
		ss.ID.String(), ss.UserID, micros(ss.CreatedAt), micros(ss.LastSeenAt), micros(ss.IdleDeadline),
		micros(ss.AbsoluteDeadline), ss.CreatedIP, ss.UserAgent, ss.LastIP, ceilMillis(ss.AbsoluteDeadline),
		ss.Epoch, ss.Method, micros(ss.AuthAt), s.prefix,
		ss.Handle.String(), hex.EncodeToString(ss.Secret[:]), ss.Gen, ss.SeenGen, micros(ss.SeenAt), micros(ss.IssuedAt),
		ss.BindKey, micros(ss.BoundAt), ss.BindSeq, ss.Unbound).Int()
	if err != nil {
		return mapErr(err)
	}
	switch n {
	case 0:
		return session.ErrExists
	case -1:
		return fmt.Errorf("redisstore: handle %s names another session: %w", ss.Handle.Short(), session.ErrExists)
	}
	return nil
}

// Find reads the session with one HMGET. A hash without a handle or secret
// is upgraded (see the package documentation), in a second round trip.
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
	if outdated(vals) {
		return s.upgrade(ctx, id)
	}
	return parse(id, vals)
}

// outdated reports whether the fields of a session lack its handle or
// secret.
func outdated(vals []any) bool { return vals[fHandle] == nil || vals[fSecret] == nil }

// upgrade fills in the handle and secret of the session with the given ID,
// if it still lacks them, and returns it.
func (s *Store) upgrade(ctx context.Context, id session.ID) (session.Session, error) {
	h, secret := fresh()
	vals, err := upgradeScript.Run(ctx, s.c, []string{s.sessionKey(id)}, s.prefix, id.String(), h, secret).Slice()
	if err != nil {
		return session.Session{}, mapErr(err)
	}
	return parse(id, vals)
}

// fresh returns a random handle and secret in hex, for the scripts that
// may have to fill them in.
func fresh() (handle, secret string) {
	var b [len(session.Handle{}) + 32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:len(session.Handle{})]), hex.EncodeToString(b[len(session.Handle{}):])
}

func (s *Store) FindHandle(ctx context.Context, h session.Handle) (session.Session, error) {
	if h.IsZero() {
		return session.Session{}, session.ErrNotFound
	}
	vals, err := findHandleScript.Run(ctx, s.c, []string{s.handleKey(h)}, s.prefix, h.String()).Slice()
	if err != nil {
		return session.Session{}, mapErr(err)
	}
	if len(vals) != 1+len(fields) {
		return session.Session{}, fmt.Errorf("redisstore: find by handle returned %d values", len(vals))
	}
	hexID, _ := vals[0].(string)
	id, err := session.ParseID(hexID)
	if err != nil {
		return session.Session{}, fmt.Errorf("redisstore: corrupt handle key %s: %w", s.handleKey(h), err)
	}
	if outdated(vals[1:]) {
		return s.upgrade(ctx, id)
	}
	return parse(id, vals[1:])
}

func (s *Store) Touch(ctx context.Context, id session.ID, now, seenBefore, idleDeadline time.Time, lastIP string) error {
	return found(touchScript.Run(ctx, s.c, []string{s.sessionKey(id), s.expiry},
		id.String(), micros(now), micros(idleDeadline), lastIP, micros(seenBefore)).Int())
}

func (s *Store) Rotate(ctx context.Context, oldID, newID session.ID, now, authAt time.Time, epoch int64) error {
	h, secret := fresh()
	n, err := rotateScript.Run(ctx, s.c, []string{s.sessionKey(oldID), s.sessionKey(newID), s.expiry},
		oldID.String(), newID.String(), micros(now), s.prefix, micros(authAt), epoch, h, secret).Int()
	if err == nil && n < 0 {
		return session.ErrExists
	}
	return found(n, err)
}

func (s *Store) Renew(ctx context.Context, oldID, newID session.ID, gen int64, now, idleDeadline time.Time, lastIP string) error {
	h, secret := fresh()
	n, err := renewScript.Run(ctx, s.c,
		[]string{s.sessionKey(oldID), s.sessionKey(newID), s.expiry, s.endingKey(oldID), s.endings},
		oldID.String(), newID.String(), gen, micros(now), micros(idleDeadline), lastIP, s.prefix, h, secret).Int()
	if err == nil && n < 0 {
		return session.ErrExists
	}
	return found(n, err)
}

func (s *Store) Seen(ctx context.Context, id session.ID, gen int64, now time.Time) error {
	return found(seenScript.Run(ctx, s.c, []string{s.sessionKey(id)}, micros(now), gen).Int())
}

func (s *Store) Bind(ctx context.Context, id session.ID, now time.Time, seq int64, key string) error {
	if len(key) > maxBindKey {
		return fmt.Errorf("redisstore: bind key of %d bytes, more than %d", len(key), maxBindKey)
	}
	return found(bindScript.Run(ctx, s.c, []string{s.sessionKey(id)}, micros(now), seq, key).Int())
}

func (s *Store) NoteUnbound(ctx context.Context, id session.ID, now time.Time) (int64, error) {
	n, err := noteUnboundScript.Run(ctx, s.c, []string{s.sessionKey(id)}, micros(now)).Int64()
	if err != nil {
		return 0, mapErr(err)
	}
	return n, nil
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
	vals, err := s.c.HMGet(ctx, s.endingKey(id), "user_id", "at", "why", "handle", "gen", "seen").Result()
	if err != nil {
		return session.Ending{}, mapErr(err)
	}
	if vals[0] == nil && vals[1] == nil && vals[2] == nil {
		return session.Ending{}, session.ErrNotFound
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("redisstore: corrupt ending %s: "+format, append([]any{id.Short()}, args...)...)
	}
	userID, ok1 := vals[0].(string)
	at, ok2 := vals[1].(string)
	why, ok3 := vals[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return session.Ending{}, corrupt("a field is missing")
	}
	us, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return session.Ending{}, corrupt("field at: %w", err)
	}
	e := session.Ending{UserID: userID, At: fromMicros(us), Why: why}
	if h, ok := vals[3].(string); ok {
		if e.Handle, err = session.ParseHandle(h); err != nil {
			return session.Ending{}, corrupt("field handle: %w", err)
		}
		g, _ := vals[4].(string)
		if e.Gen, err = strconv.ParseInt(g, 10, 64); err != nil {
			return session.Ending{}, corrupt("field gen: %w", err)
		}
		switch seen := vals[5]; seen {
		case "1":
			e.Seen = true
		case "0", nil:
		default:
			return session.Ending{}, corrupt("field seen is %q", seen)
		}
	}
	return e, nil
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
		var ss session.Session
		if row := vals[i+1 : i+width]; !outdated(row) {
			ss, err = parse(id, row)
		} else if ss, err = s.upgrade(ctx, id); errors.Is(err, session.ErrNotFound) || err == nil && (ss.UserID != userID || !ss.ValidAt(now)) {
			continue // moved or ended since
		}
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
// later field (a hash written before it existed) takes its default: the
// creation time for auth_at, seen_at and issued_at, the zero value for the
// others.
func parse(id session.ID, vals []any) (session.Session, error) {
	if len(vals) != len(fields) {
		return session.Session{}, fmt.Errorf("redisstore: %d values for the %d fields of session %s", len(vals), len(fields), id.Short())
	}
	var str [len(fields)]string
	var has [len(fields)]bool
	for i, v := range vals {
		sv, ok := v.(string)
		if !ok && (v != nil || i < required) {
			return session.Session{}, fmt.Errorf("redisstore: corrupt session %s: field %s is %T", id.Short(), fields[i], v)
		}
		str[i], has[i] = sv, ok
	}
	bad := func(i int, err error) error {
		return fmt.Errorf("redisstore: corrupt session %s: field %s: %w", id.Short(), fields[i], err)
	}
	ss := session.Session{
		ID:        id,
		UserID:    str[fUserID],
		CreatedIP: str[fCreatedIP],
		UserAgent: str[fUserAgent],
		LastIP:    str[fLastIP],
		Method:    str[fMethod],
		BindKey:   str[fBindKey],
	}
	for _, t := range [...]struct {
		i int
		p *time.Time
	}{{fCreatedAt, &ss.CreatedAt}, {fLastSeenAt, &ss.LastSeenAt}, {fIdleDeadline, &ss.IdleDeadline},
		{fAbsDeadline, &ss.AbsoluteDeadline}, {fAuthAt, &ss.AuthAt}, {fSeenAt, &ss.SeenAt},
		{fIssuedAt, &ss.IssuedAt}, {fBoundAt, &ss.BoundAt}} {
		if !has[t.i] {
			if t.i != fBoundAt {
				*t.p = ss.CreatedAt // parsed first
			}
			continue
		}
		us, err := strconv.ParseInt(str[t.i], 10, 64)
		if err != nil {
			return session.Session{}, bad(t.i, err)
		}
		*t.p = fromMicros(us)
	}
	for _, n := range [...]struct {
		i int
		p *int64
	}{{fEpoch, &ss.Epoch}, {fGen, &ss.Gen}, {fSeenGen, &ss.SeenGen}, {fBindSeq, &ss.BindSeq}, {fUnbound, &ss.Unbound}} {
		if !has[n.i] {
			continue
		}
		v, err := strconv.ParseInt(str[n.i], 10, 64)
		if err != nil {
			return session.Session{}, bad(n.i, err)
		}
		*n.p = v
	}
	if has[fHandle] {
		if err := decodeHex(ss.Handle[:], str[fHandle]); err != nil {
			return session.Session{}, bad(fHandle, err)
		}
	}
	if has[fSecret] {
		if err := decodeHex(ss.Secret[:], str[fSecret]); err != nil {
			return session.Session{}, bad(fSecret, err)
		}
	}
	return ss, nil
}

// decodeHex decodes exactly len(dst) bytes of hex.
func decodeHex(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%d hex digits, want %d", len(s), 2*len(dst))
	}
	_, err := hex.Decode(dst, []byte(s))
	return err
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
