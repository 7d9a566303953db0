// Package redisstore keeps sessions in Redis (7.0 or later) through
// github.com/redis/go-redis/v9.
//
// Each session is one small hash keyed by the SHA-256 of its token; the
// token itself is never stored. The layout is built to stay in Redis's
// compact encodings (listpack) with the server's default limits, so that a
// session with its indexes takes about 530 bytes of server memory at a
// million sessions. With the default prefix the keys are:
//
//	cb:session:s:<hex id>      hash: the session, in fields of one letter (see
//	                           below). It expires at the absolute deadline.
//	cb:session:user:<user id>  sorted set: the handles (16 bytes) of the
//	                           user's sessions, scored by the earlier of each
//	                           session's deadlines (as a double, so that a
//	                           far deadline may round: scripts compare the
//	                           hash's exact values). It has no expiry: every
//	                           end of a session, and the sweep after Redis
//	                           expired one, takes its entry out.
//	cb:session:handles:<3 hex> hash, one of 4096 buckets chosen by the first
//	                           12 bits of a handle: handle -> the raw ID of
//	                           the session that has it now, for FindHandle
//	                           and for the user's sorted set. Create, Renew
//	                           and Rotate point it, every end removes it.
//	                           Readers check the session's own handle, so a
//	                           stale entry is never believed.
//	cb:session:due             sorted set: user ids scored by the lowest
//	                           score in the user's set, for DeleteExpired.
//	cb:session:ua:<hex>        string: a User-Agent longer than 16 bytes,
//	                           keyed by the first 16 bytes of its SHA-256 and
//	                           shared by every session created with it. Its
//	                           expiry is pushed out to the latest absolute
//	                           deadline of those sessions, so it outlives
//	                           each of them.
//	cb:session:e:<hex id>      hash: the Ending of a session deleted with a
//	                           reason, or of a token replaced by Renew (user_id,
//	                           at, why, the session's abs_deadline, and for a
//	                           replaced token handle, gen and seen, "1" if a
//	                           request had presented it and "0" if not; a link
//	                           written before seen existed reads as not
//	                           presented). It expires when the session's key
//	                           does, and Ended ignores it from the absolute
//	                           deadline on (by the server's clock) even if
//	                           the key is still there.
//	cb:session:endings         sorted set: hex ids of endings scored by their
//	                           session's absolute deadline, so that
//	                           DeleteExpired forgets them at the caller's now,
//	                           500 per script.
//	cb:session:store_id        string: the store's identity (Store.Identity),
//	                           without expiry.
//
// The fields of a session hash are u (user id), c (created), l (last seen),
// i (idle deadline), a (absolute deadline), p (IP at creation), q (last
// IP), y (the User-Agent itself, when short) or Y (the 16-byte reference to
// its ua key), e (epoch), m (method), A (authenticated at), h (the 16-byte
// handle followed by the 32-byte secret), g (generation), n (generation
// seen), S (seen at), I (issued at), K, K1, K2... (the bind key in pieces of
// 64 bytes), B (bound at), Q (binding challenges used) and N (requests
// refused unbound). Times are integer microseconds since the Unix epoch. An
// IP address in canonical form is stored as 0x04 or 0x06 and its 4 or 16
// bytes, anything else as its text (after a 0x00 if it starts with one of
// those bytes). A field left out takes its default: the creation time for
// l, A, S and I, the IP at creation for q, and zero or empty for the
// others; Create leaves out fields that hold their default. Every value
// stays within 64 bytes, Redis's default hash-max-listpack-value.
//
// # Hashes of the previous layout
//
// Sessions written by earlier versions (hashes with fields such as user_id
// and created_at, the set cb:session:u:<user id>, the sorted set
// cb:session:expiry and the strings cb:session:h:<handle>) stay readable:
// any operation that meets one converts it in place to the current layout,
// in one script that moves its index entries too, and then does its work
// (two more round trips, once in the life of such a session). A converted
// session keeps its User-Agent in its hash, whatever its length. Hashes
// older still, without a handle and secret, get random ones then. List and
// DeleteAllForUser first convert whatever the user's old set still holds,
// and DeleteExpired sweeps what is left in the old index, so nothing needs
// converting by hand, and the old keys disappear as the sessions in them
// end. Instances of an earlier version do not understand the current
// layout: they must all be stopped before instances of this one start, or
// users signed in through this one look signed out to them.
//
// # Atomicity and cost
//
// Every operation is one round trip, except List and DeleteAllForUser for
// users with many sessions, and DeleteExpired: one script for the sessions,
// then one for every 500 endings due (one at least). Those that touch
// several keys or are conditional run as one Lua script, so they are
// atomic, and no write after Create can re-create a session that is gone.
// Deadlines and counters are compared as exact integers, not Lua doubles.
//
// List and DeleteAllForUser walk the user's sorted set (ZSCAN) in scripts
// of about 100 sessions each, or of all of them while the set is small
// enough for Redis's compact encoding (zset-max-listpack-entries, 128 by
// default), so that a user with thousands of sessions never blocks the
// server for long. Since the set holds handles,
// which a session keeps across Renew and Rotate, a session that exists from
// the start of the walk to its end is listed (or deleted) even if its token
// is renewed meanwhile, and none is listed twice; one created or ended
// while the walk runs may or may not be. DeleteAllForUser spares the
// session named by except as it was when the call began, following it
// across renewals, and deletes every other session the user had then; a
// Manager with credential epochs, which bumps the epoch before it revokes,
// refuses the sessions signed in after that anyway.
//
// Redis removes a session's key at its absolute deadline by itself; the
// indexes catch up in List, DeleteAllForUser and DeleteExpired, so
// DeleteExpired must run periodically (the Manager's sweeper does): it is
// also what removes the index entries of sessions Redis expired.
//
// The Redis server must not evict keys (maxmemory-policy noeviction, the
// default): an evicted user set would let a revocation miss sessions, and
// an evicted session hash would log its user out. Store.Check verifies it.
// Beyond about two million sessions the handle buckets outgrow the default
// hash-max-listpack-entries (512) and take more memory; raise it to keep
// them compact. With replicas, a failover can lose writes not yet
// replicated, a logout among them; deployments that fail over should also
// replicate synchronously enough for that (for instance WAIT in a client
// hook).
//
// Scripts derive the keys of the indexes from the session hash, and the
// session key from the indexes, so all keys must live on one node: with
// Redis Cluster the prefix must carry a hash tag, such as "{cb:session}:".
package redisstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
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
	due     string // key of the sorted set of users by their next deadline
	expiry  string // key of the previous layout's sorted set of deadlines
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
	return &Store{c: client, prefix: prefix, due: prefix + "due", expiry: prefix + "expiry", endings: prefix + "endings"}, nil
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

func (s *Store) userKey(userID string) string { return s.prefix + "user:" + userID }

// oldUserKey is the previous layout's set of a user's hex ids.
func (s *Store) oldUserKey(userID string) string { return s.prefix + "u:" + userID }

func (s *Store) endingKey(id session.ID) string { return s.prefix + "e:" + id.String() }

func (s *Store) bucketKey(h session.Handle) string {
	return s.prefix + "handles:" + fmt.Sprintf("%03x", int(h[0])<<4|int(h[1])>>4)
}

// Hash fields, in the order Find and List return them.
var fields = [...]string{"u", "c", "l", "i", "a", "p", "q", "y", "Y", "e", "m", "A", "h", "g", "n", "S", "I", "K", "B", "Q", "N"}

// Indexes into fields.
const (
	fUserID = iota
	fCreatedAt
	fLastSeenAt
	fIdleDeadline
	fAbsDeadline
	fCreatedIP
	fLastIP
	fUserAgent    // the User-Agent, when stored in the hash
	fUserAgentRef // its reference; scripts that read return the User-Agent itself in its place
	fEpoch
	fMethod
	fAuthAt
	fHandle // handle and secret
	fGen
	fSeenGen
	fSeenAt
	fIssuedAt
	fBindKey // its first piece; scripts that read return all of it
	fBoundAt
	fBindSeq
	fUnbound
	nFields
)

// maxBindKey is the longest BindKey the store accepts, in bytes.
const maxBindKey = 4096

// pieceLen is the length of the pieces of a bind key, and maxInlineUA the
// longest User-Agent kept in the session hash itself; both within Redis's
// default hash-max-listpack-value of 64.
const (
	pieceLen    = 64
	maxInlineUA = 16
	uaRefLen    = 16
)

// batch is about how many sessions one script of List or DeleteAllForUser
// handles (ZSCAN's COUNT).
const batch = 100

// script builds a script from lib and body, in which FIELDS stands for
// the quoted list of fields, in order, NFIELDS for their number and BATCH
// for batch.
func script(body string) *redis.Script {
	quoted := make([]string, len(fields))
	for i, f := range fields {
		quoted[i] = "'" + f + "'"
	}
	body = strings.ReplaceAll(body, "NFIELDS", strconv.Itoa(len(fields)))
	body = strings.ReplaceAll(body, "FIELDS", strings.Join(quoted, ", "))
	body = strings.ReplaceAll(body, "BATCH", strconv.Itoa(batch))
	return redis.NewScript(lib + body)
}

// lib is prepended to every script. Times and counters travel as canonical
// decimal strings (strconv.FormatInt) and are compared exactly, since Lua
// numbers are doubles. IDs and handles travel as raw bytes.
//
// live reads u, i and a and then the fields named in its arguments from
// skey, and returns them if the session exists and is valid at now; nil if
// not; nil and an error reply if the hash is corrupt or of the previous
// layout (see old).
//
// full completes the fields of a session read in order (FIELDS): the
// User-Agent in place of its reference, and the whole bind key in place of
// its first piece. uas, if given, caches User-Agents across calls.
//
// index and unindex add and remove a session's entries in its user's set
// and its handle's bucket; resched sets the user's entry in the due set to
// the lowest score in the user's set, or removes it.
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
local function old(skey)
  return redis.error_reply('CBOLD ' .. string.sub(skey, -64))
end
local function tohex(s)
  return string.format(string.rep('%02x', #s), string.byte(s, 1, -1))
end
local function unhex(h)
  return (string.gsub(h, '%x%x', function(x) return string.char(tonumber(x, 16)) end))
end
local function sessionkey(prefix, id) return prefix .. 's:' .. tohex(id) end
local function userkey(prefix, uid) return prefix .. 'user:' .. uid end
local function bucket(prefix, h)
  local a, b = string.byte(h, 1, 2)
  return prefix .. 'handles:' .. string.format('%03x', a * 16 + math.floor(b / 16))
end
local function handleof(hs) return hs and string.sub(hs, 1, 16) end
local function live(skey, now, ...)
  local f = redis.call('HMGET', skey, 'u', 'i', 'a', ...)
  if not f[1] and not f[2] and not f[3] then
    if redis.call('EXISTS', skey) == 0 then return nil end
    if redis.call('HEXISTS', skey, 'user_id') == 1 then return nil, old(skey) end
    return nil, corrupt(skey)
  end
  if not (f[1] and f[2] and f[3]) then return nil, corrupt(skey) end
  if not (lt(now, f[2]) and lt(now, f[3])) then return nil end
  return f
end
local function full(prefix, skey, f, uas)
  if f[9] then
    local ua = uas and uas[f[9]]
    if not ua then
      ua = redis.call('GET', prefix .. 'ua:' .. tohex(f[9]))
      if not ua then return nil, redis.error_reply('ERR missing user agent of session hash ' .. skey) end
      if uas then uas[f[9]] = ua end
    end
    f[9] = ua
  end
  if f[18] and #f[18] == 64 then
    local parts = {f[18]}
    while true do
      local p = redis.call('HGET', skey, 'K' .. #parts)
      if not p then break end
      parts[#parts + 1] = p
    end
    f[18] = table.concat(parts)
  end
  return f
end
local function resched(prefix, uid)
  local first = redis.call('ZRANGE', userkey(prefix, uid), 0, 0, 'WITHSCORES')
  if first[1] then
    redis.call('ZADD', prefix .. 'due', first[2], uid)
  else
    redis.call('ZREM', prefix .. 'due', uid)
  end
end
local function index(prefix, uid, h, id, score)
  redis.call('ZADD', userkey(prefix, uid), score, h)
  redis.call('HSET', bucket(prefix, h), h, id)
  resched(prefix, uid)
end
local function unindex(prefix, uid, h, id)
  redis.call('ZREM', userkey(prefix, uid), h)
  local b = bucket(prefix, h)
  if redis.call('HGET', b, h) == id then redis.call('HDEL', b, h) end
  resched(prefix, uid)
end
local function setkey(skey, key)
  for i = 0, math.ceil(#key / 64) - 1 do
    local name = 'K'
    if i > 0 then name = 'K' .. i end
    redis.call('HSET', skey, name, string.sub(key, i * 64 + 1, i * 64 + 64))
  end
end
`

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

// createScript: KEYS session; ARGV prefix, raw id, user id, handle, score
// (the earlier deadline), absolute deadline in ms (rounded up, so the key
// outlives the session's last valid instant), User-Agent, its reference
// ("" to keep it in the hash), then the fields to set, as field, value.
// Returns 1 when created, 0 when the ID is taken, -1 when the handle names
// another session.
//
// A deadline that has already passed on the server's clock cannot be a TTL
// (PEXPIREAT would delete the key at once, so Find could not return it):
// such a session is kept without one, with its User-Agent in the hash,
// until DeleteExpired. So is a User-Agent whose reference names another
// one.
var createScript = script(`
local prefix, id, uid, h = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local cur = redis.call('HGET', bucket(prefix, h), h)
if cur and cur ~= id and handleof(redis.call('HGET', sessionkey(prefix, cur), 'h')) == h then return -1 end
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
local t = redis.call('TIME')
local nowms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ua, ref = ARGV[7], ARGV[8]
if tonumber(ARGV[6]) > nowms then
  redis.call('PEXPIREAT', KEYS[1], ARGV[6])
  if ref ~= '' then
    local ukey = prefix .. 'ua:' .. tohex(ref)
    local have = redis.call('GET', ukey)
    if not have then
      redis.call('SET', ukey, ua, 'PXAT', ARGV[6])
    elseif have == ua then
      redis.call('PEXPIREAT', ukey, ARGV[6], 'GT')
    else
      ref = ''
    end
  end
else
  ref = ''
end
if ref ~= '' then
  redis.call('HSET', KEYS[1], 'Y', ref)
elseif ua ~= '' then
  redis.call('HSET', KEYS[1], 'y', ua)
end
index(prefix, uid, h, id, ARGV[5])
return 1
`)

// findScript: KEYS session; ARGV prefix. Returns the session's fields, or
// nil if there is none.
var findScript = script(`
local f = redis.call('HMGET', KEYS[1], FIELDS)
if not f[1] then
  if redis.call('EXISTS', KEYS[1]) == 0 then return false end
  if redis.call('HEXISTS', KEYS[1], 'user_id') == 1 then return old(KEYS[1]) end
  return corrupt(KEYS[1])
end
local g, err = full(ARGV[1], KEYS[1], f)
if err then return err end
return g
`)

// findHandleScript: KEYS bucket; ARGV prefix, handle, handle in hex. Returns
// the raw id and the fields of the session the bucket names if that session
// has the handle, or nil. A session of the previous layout is found through
// its handle key.
var findHandleScript = script(`
local id = redis.call('HGET', KEYS[1], ARGV[2])
if not id then
  local hex = redis.call('GET', ARGV[1] .. 'h:' .. ARGV[3])
  if hex and redis.call('HGET', ARGV[1] .. 's:' .. hex, 'handle') == ARGV[3] then return old(ARGV[1] .. 's:' .. hex) end
  return false
end
if #id ~= 32 then return redis.error_reply('ERR corrupt handle entry in ' .. KEYS[1]) end
local skey = sessionkey(ARGV[1], id)
local f = redis.call('HMGET', skey, FIELDS)
if handleof(f[13]) ~= ARGV[2] then return false end
if not f[1] then return corrupt(skey) end
local g, err = full(ARGV[1], skey, f)
if err then return err end
table.insert(g, 1, id)
return g
`)

// touchScript: KEYS session; ARGV prefix, now, idle deadline, last IP, seen
// before. Returns 0 when the session is gone or not valid at now, 2 when it
// was touched after seen before (nothing written), 1 when touched.
var touchScript = script(`
local f, err = live(KEYS[1], ARGV[2], 'l', 'c', 'h')
if err then return err end
if not f then return 0 end
if not (f[5] and f[6]) then return corrupt(KEYS[1]) end
if lt(ARGV[5], f[4] or f[5]) then return 2 end
redis.call('HSET', KEYS[1], 'l', ARGV[2], 'i', ARGV[3], 'q', ARGV[4])
redis.call('ZADD', userkey(ARGV[1], f[1]), 'XX', earlier(ARGV[3], f[3]), handleof(f[6]))
resched(ARGV[1], f[1])
return 1
`)

// rotateScript: KEYS old session, new session; ARGV prefix, new raw id,
// now, auth_at, epoch. Returns 1 when moved, 0 when old is gone or no
// longer valid, -1 when new is taken. The session keeps its handle, so
// its entry in the user's set stays as it is.
var rotateScript = script(`
local f, err = live(KEYS[1], ARGV[3], 'h')
if err then return err end
if not f then return 0 end
if not f[4] then return corrupt(KEYS[1]) end
if KEYS[1] ~= KEYS[2] then
  if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
  redis.call('RENAME', KEYS[1], KEYS[2])
  local h = handleof(f[4])
  redis.call('HSET', bucket(ARGV[1], h), h, ARGV[2])
end
redis.call('HINCRBY', KEYS[2], 'g', 1)
local g = redis.call('HGET', KEYS[2], 'g')
redis.call('HSET', KEYS[2], 'A', ARGV[4], 'e', ARGV[5], 'n', g, 'I', ARGV[3], 'S', ARGV[3])
return 1
`)

// renewScript: KEYS old session, new session, old ending, endings; ARGV
// prefix, old hex id, new raw id, gen, now, idle deadline, last IP.
// Returns 1 when renewed, 0 when old is gone, no longer valid or of
// another generation, -1 when new is taken. The link records whether the
// old token had been presented: whether the session's seen generation was
// gen.
var renewScript = script(rememberLib + `
local f, err = live(KEYS[1], ARGV[5], 'g', 'h', 'n')
if err then return err end
if not f or (f[4] or '0') ~= ARGV[4] then return 0 end
if not f[5] then return corrupt(KEYS[1]) end
local seen = '0'
if (f[6] or '0') == ARGV[4] then seen = '1' end
if KEYS[1] == KEYS[2] or redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local h = handleof(f[5])
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('HSET', bucket(ARGV[1], h), h, ARGV[3])
redis.call('HINCRBY', KEYS[2], 'g', 1)
redis.call('HSET', KEYS[2], 'I', ARGV[5], 'l', ARGV[5], 'i', ARGV[6], 'q', ARGV[7])
redis.call('ZADD', userkey(ARGV[1], f[1]), 'XX', earlier(ARGV[6], f[3]), h)
resched(ARGV[1], f[1])
keep(KEYS[2], KEYS[3], KEYS[4], ARGV[2], f[3], ARGV[5], 'user_id', f[1], 'why', '', 'handle', tohex(h), 'gen', ARGV[4], 'seen', seen)
return 1
`)

// seenScript: KEYS session; ARGV now, gen. Returns 1 when the session is
// valid at now (written or not), 0 otherwise.
var seenScript = script(`
local f, err = live(KEYS[1], ARGV[1], 'g', 'n')
if err then return err end
if not f then return 0 end
if (f[4] or '0') == ARGV[2] and lt(f[5] or '0', ARGV[2]) then
  redis.call('HSET', KEYS[1], 'n', ARGV[2], 'S', ARGV[1])
end
return 1
`)

// bindScript: KEYS session; ARGV now, seq, key. Returns 1 when it used
// the challenge (and bound the session to a key given), 0 otherwise.
var bindScript = script(`
local f, err = live(KEYS[1], ARGV[1], 'Q', 'K')
if err then return err end
if not f or (f[4] or '0') ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' then
  if f[5] and f[5] ~= '' then return 0 end
  setkey(KEYS[1], ARGV[3])
  redis.call('HSET', KEYS[1], 'B', ARGV[1])
end
redis.call('HINCRBY', KEYS[1], 'Q', 1)
return 1
`)

// noteUnboundScript: KEYS session; ARGV now. Returns the new count, or nil
// when the session is gone or not valid at now.
var noteUnboundScript = script(`
local f, err = live(KEYS[1], ARGV[1])
if err then return err end
if not f then return false end
return redis.call('HINCRBY', KEYS[1], 'N', 1)
`)

// deleteScript: KEYS session, ending, endings; ARGV prefix, hex id, raw id,
// now, why, and for DeleteForUser the user id the session must belong to.
var deleteScript = script(rememberLib + `
local f = redis.call('HMGET', KEYS[1], 'u', 'a', 'h')
local u, h = f[1], handleof(f[3])
if not u then
  if redis.call('HEXISTS', KEYS[1], 'user_id') == 1 then return old(KEYS[1]) end
  -- A hash without an owner is corrupt; plain Delete still removes it.
  if #ARGV == 5 then
    if h then
      local b = bucket(ARGV[1], h)
      if redis.call('HGET', b, h) == ARGV[3] then redis.call('HDEL', b, h) end
    end
    return redis.call('DEL', KEYS[1])
  end
  return 0
end
if #ARGV == 6 and u ~= ARGV[6] then return 0 end
remember(KEYS[1], KEYS[2], KEYS[3], ARGV[2], u, f[2], ARGV[4], ARGV[5])
redis.call('DEL', KEYS[1])
if h then unindex(ARGV[1], u, h, ARGV[3]) end
return 1
`)

// deleteAllScript: KEYS user set, the user's set of the previous layout,
// endings; ARGV prefix, user id, ZSCAN cursor, hex id to keep ("" for
// none), handle to keep ("" if not known yet), now, why. It deletes the
// user's sessions among about BATCH entries of the user's set, and returns
// the next cursor, how many it deleted and the handle of the session kept
// (once known). It refuses to start while the previous layout's set exists.
var deleteAllScript = script(rememberLib + `
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('CBOLDSET ' .. KEYS[2]) end
local prefix, uid, keep = ARGV[1], ARGV[2], ARGV[5]
if keep == '' and ARGV[4] ~= '' then
  local f = redis.call('HMGET', prefix .. 's:' .. ARGV[4], 'u', 'h')
  if f[1] == uid and f[2] then keep = handleof(f[2]) end
end
local r = redis.call('ZSCAN', KEYS[1], ARGV[3], 'COUNT', BATCH)
local n = 0
for i = 1, #r[2], 2 do
  local h = r[2][i]
  if h ~= keep then
    local b = bucket(prefix, h)
    local id = redis.call('HGET', b, h)
    local skey, f
    if id then
      skey = sessionkey(prefix, id)
      f = redis.call('HMGET', skey, 'u', 'a', 'h')
    end
    if f and f[1] == uid then
      -- The user's, even if its handle field is damaged.
      local hex = tohex(id)
      remember(skey, prefix .. 'e:' .. hex, KEYS[3], hex, uid, f[2], ARGV[6], ARGV[7])
      redis.call('DEL', skey)
      redis.call('HDEL', b, h)
      n = n + 1
    elseif id and handleof(f[3]) ~= h then
      -- The bucket names a session without this handle: gone.
      redis.call('HDEL', b, h)
    end
    redis.call('ZREM', KEYS[1], h)
  end
end
resched(prefix, uid)
return {r[1], n, keep}
`)

// listScript: KEYS user set, the user's set of the previous layout; ARGV
// prefix, user id, now, ZSCAN cursor. Returns the next cursor, then the raw
// id and the fields of each session valid at now among about BATCH entries
// of the user's set (false, that is nil, for a missing field). It drops
// entries of sessions that are gone, and refuses to start while the
// previous layout's set exists.
var listScript = script(`
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('CBOLDSET ' .. KEYS[2]) end
local prefix, uid, now = ARGV[1], ARGV[2], ARGV[3]
local r = redis.call('ZSCAN', KEYS[1], ARGV[4], 'COUNT', BATCH)
local out, uas, dropped = {r[1]}, {}, false
for i = 1, #r[2], 2 do
  local h = r[2][i]
  local b = bucket(prefix, h)
  local id = redis.call('HGET', b, h)
  local skey, f
  if id then
    skey = sessionkey(prefix, id)
    f = redis.call('HMGET', skey, FIELDS)
  end
  if f and f[1] == uid and handleof(f[13]) == h then
    if not (f[2] and f[4] and f[5] and f[6] and #f[13] == 48) then return corrupt(skey) end
    if lt(now, f[4]) and lt(now, f[5]) then
      local g, err = full(prefix, skey, f, uas)
      if err then return err end
      table.insert(out, id)
      for j = 1, NFIELDS do table.insert(out, g[j]) end
    end
  elseif f and f[1] == uid and not (f[13] and #f[13] == 48) then
    return corrupt(skey)
  else
    -- Gone, now another user's, or under another handle: not ours to list.
    if id and handleof(f[13]) ~= h then redis.call('HDEL', b, h) end
    redis.call('ZREM', KEYS[1], h)
    dropped = true
  end
end
if dropped then resched(prefix, uid) end
return out
`)

// sweepScript: KEYS due, the previous layout's expiry set; ARGV prefix,
// now, limit. Returns the number of sessions deleted. It looks at no more
// than limit users and limit entries of their sets, then at the previous
// layout's index with what is left of limit.
var sweepScript = script(`
local prefix, now = ARGV[1], ARGV[2]
local budget = tonumber(ARGV[3])
local n = 0
for _, uid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, budget)) do
  if budget <= 0 then break end
  local ukey = userkey(prefix, uid)
  for _, h in ipairs(redis.call('ZRANGEBYSCORE', ukey, '-inf', now, 'LIMIT', 0, budget)) do
    budget = budget - 1
    local b = bucket(prefix, h)
    local id = redis.call('HGET', b, h)
    local skey, f
    if id then
      skey = sessionkey(prefix, id)
      f = redis.call('HMGET', skey, 'u', 'i', 'a', 'h')
    end
    local mine = f and handleof(f[4]) == h
    if mine and f[1] == uid and f[2] and f[3] then
      local e = earlier(f[2], f[3])
      if lt(now, e) then
        -- The score is behind the hash (a double that rounded): correct it.
        redis.call('ZADD', ukey, e, h)
      else
        redis.call('DEL', skey)
        redis.call('HDEL', b, h)
        redis.call('ZREM', ukey, h)
        n = n + 1
      end
    else
      -- Expired by Redis already, now another user's, or corrupt: drop the
      -- index entries, leave any key alone.
      if id and not mine then redis.call('HDEL', b, h) end
      redis.call('ZREM', ukey, h)
    end
  end
  resched(prefix, uid)
end
-- The previous layout's index, until it is empty.
if budget > 0 then
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, budget)) do
    local hex, uid = string.sub(m, 1, 64), string.sub(m, 66)
    local skey = prefix .. 's:' .. hex
    local f = redis.call('HMGET', skey, 'user_id', 'idle_deadline', 'abs_deadline', 'handle')
    if f[1] == uid and f[2] and f[3] then
      local e = earlier(f[2], f[3])
      if lt(now, e) then
        redis.call('ZADD', KEYS[2], e, m)
      else
        redis.call('DEL', skey)
        if f[4] and redis.call('GET', prefix .. 'h:' .. f[4]) == hex then redis.call('DEL', prefix .. 'h:' .. f[4]) end
        n = n + 1
        redis.call('SREM', prefix .. 'u:' .. uid, hex)
        redis.call('ZREM', KEYS[2], m)
      end
    else
      if f[1] ~= uid then redis.call('SREM', prefix .. 'u:' .. uid, hex) end
      redis.call('ZREM', KEYS[2], m)
    end
  end
end
return n
`)

// forgetScript: KEYS endings; ARGV prefix, now, offset, count. It looks at
// no more than count entries of the endings due at now, from offset in
// their range, and forgets those past their deadline. Returns how many it
// looked at and how many of those it kept: an entry whose score is behind
// its deadline (a double that rounded) stays in the range, ahead of those
// not looked at yet.
var forgetScript = script(`
local prefix, now = ARGV[1], ARGV[2]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', ARGV[3], ARGV[4])
local kept = 0
for _, hex in ipairs(due) do
  local ekey = prefix .. 'e:' .. hex
  local d = redis.call('HGET', ekey, 'abs_deadline')
  if d and lt(now, d) then
    kept = kept + 1
  else
    -- Past its deadline, or expired by Redis already.
    redis.call('DEL', ekey)
    redis.call('ZREM', KEYS[1], hex)
  end
end
return {#due, kept}
`)

// endedScript: KEYS ending. Returns the ending's user_id, at, why, handle,
// gen and seen, or nothing if there is none or its session's absolute
// deadline has passed on the server's clock: the key expires then, but
// only to the millisecond, and a key whose expiry was lost (a restore
// without TTLs) would outlive it.
var endedScript = script(`
local f = redis.call('HMGET', KEYS[1], 'user_id', 'at', 'why', 'handle', 'gen', 'seen', 'abs_deadline')
if f[7] then
  local t = redis.call('TIME')
  local now = t[1] .. string.format('%06d', tonumber(t[2]))
  if not lt(now, f[7]) then return {} end
end
return {f[1], f[2], f[3], f[4], f[5], f[6]}
`)

// convertScript: KEYS session; ARGV prefix, hex id, a fresh handle and
// secret (used only for a hash without them), and optionally the id of a
// user whose set of the previous layout should lose the session in any
// case. It converts a session hash of the previous layout to the current
// one in place, keeping its expiry, and moves its index entries. Returns 1
// when converted, 0 when there was nothing to convert (gone, or converted
// already).
var convertScript = script(`
local prefix, hex = ARGV[1], ARGV[2]
if ARGV[5] then redis.call('SREM', prefix .. 'u:' .. ARGV[5], hex) end
local all = redis.call('HGETALL', KEYS[1])
local o = {}
for i = 1, #all, 2 do o[all[i]] = all[i + 1] end
if not o.user_id then
  if #all == 0 or o.u then return 0 end
  return corrupt(KEYS[1])
end
for _, name in ipairs({'created_at', 'last_seen_at', 'idle_deadline', 'abs_deadline', 'created_ip', 'user_agent', 'last_ip'}) do
  if not o[name] then return corrupt(KEYS[1]) end
end
local h, secret = ARGV[3], ARGV[4]
if o.handle and o.handle ~= string.rep('0', 32) then
  if not string.match(o.handle, '^' .. string.rep('%x', 32) .. '$') then return corrupt(KEYS[1]) end
  h = unhex(o.handle)
end
if o.secret then
  if not string.match(o.secret, '^' .. string.rep('%x', 64) .. '$') then return corrupt(KEYS[1]) end
  secret = unhex(o.secret)
end
local function ip(s)
  local b = string.byte(s, 1)
  if b == 0 or b == 4 or b == 6 then return '\0' .. s end
  return s
end
local uid = o.user_id
local set = {'u', uid, 'c', o.created_at, 'l', o.last_seen_at, 'i', o.idle_deadline, 'a', o.abs_deadline,
  'p', ip(o.created_ip), 'q', ip(o.last_ip), 'h', h .. secret}
if o.user_agent ~= '' then table.insert(set, 'y'); table.insert(set, o.user_agent) end
for from, to in pairs({epoch = 'e', method = 'm', auth_at = 'A', gen = 'g', seen_gen = 'n', seen_at = 'S',
    issued_at = 'I', bind_seq = 'Q', unbound = 'N'}) do
  if o[from] then table.insert(set, to); table.insert(set, o[from]) end
end
local ms = redis.call('PEXPIRETIME', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(set))
if o.bind_key and o.bind_key ~= '' then
  setkey(KEYS[1], o.bind_key)
  if o.bound_at then redis.call('HSET', KEYS[1], 'B', o.bound_at) end
end
if ms > 0 then redis.call('PEXPIREAT', KEYS[1], string.format('%d', ms)) end
redis.call('SREM', prefix .. 'u:' .. uid, hex)
redis.call('ZREM', prefix .. 'expiry', hex .. ':' .. uid)
if o.handle and redis.call('GET', prefix .. 'h:' .. o.handle) == hex then redis.call('DEL', prefix .. 'h:' .. o.handle) end
index(prefix, uid, h, unhex(hex), earlier(o.idle_deadline, o.abs_deadline))
return 1
`)

// oldID returns the ID of the session hash of the previous layout that a
// script met, if err says it met one.
func oldID(err error) (session.ID, bool) {
	if err == nil {
		return session.ID{}, false
	}
	hexID, ok := strings.CutPrefix(err.Error(), "CBOLD ")
	if !ok {
		return session.ID{}, false
	}
	id, perr := session.ParseID(hexID)
	return id, perr == nil
}

// isOldSet reports whether err says that a user's set of the previous
// layout is still there.
func isOldSet(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "CBOLDSET ") }

// convert converts the session hash of the previous layout with the given
// ID, if it still is one, to the current layout; with userID, it also takes
// the ID out of that user's old set in any case.
func (s *Store) convert(ctx context.Context, id session.ID, userID string) error {
	h, secret := fresh()
	args := []any{s.prefix, id.String(), h[:], secret[:]}
	if userID != "" {
		args = append(args, userID)
	}
	if err := convertScript.Run(ctx, s.c, []string{s.sessionKey(id)}, args...).Err(); err != nil {
		return mapErr(err)
	}
	return nil
}

// converted runs op, and if op met a session hash of the previous layout,
// converts it and runs op once more.
func (s *Store) converted(ctx context.Context, op func() error) error {
	err := op()
	if id, ok := oldID(err); ok {
		if err := s.convert(ctx, id, ""); err != nil {
			return err
		}
		err = op()
	}
	return err
}

// convertUser converts the sessions in userID's set of the previous layout
// until it is empty.
func (s *Store) convertUser(ctx context.Context, userID string) error {
	for {
		hexIDs, err := s.c.SRandMemberN(ctx, s.oldUserKey(userID), batch).Result()
		if err != nil {
			return mapErr(err)
		}
		if len(hexIDs) == 0 {
			return nil
		}
		for _, hexID := range hexIDs {
			id, err := session.ParseID(hexID)
			if err != nil {
				// Not an ID: nothing to convert, only a member to drop.
				if err := s.c.SRem(ctx, s.oldUserKey(userID), hexID).Err(); err != nil {
					return mapErr(err)
				}
				continue
			}
			if err := s.convert(ctx, id, userID); err != nil {
				return err
			}
		}
	}
}

// fresh returns a random handle and secret, for the conversion of a hash
// that lacks them.
func fresh() (session.Handle, [32]byte) {
	var h session.Handle
	var secret [32]byte
	rand.Read(h[:])
	rand.Read(secret[:])
	return h, secret
}

// Create stores ss as given. Besides a taken ID, it refuses with
// session.ErrExists a handle that names another session.
func (s *Store) Create(ctx context.Context, ss session.Session) error {
	if len(ss.BindKey) > maxBindKey {
		return fmt.Errorf("redisstore: bind key of %d bytes, more than %d", len(ss.BindKey), maxBindKey)
	}
	if ss.Handle.IsZero() {
		return errors.New("redisstore: session without a handle")
	}
	var ua, ref string
	if len(ss.UserAgent) > maxInlineUA {
		sum := sha256.Sum256([]byte(ss.UserAgent))
		ua, ref = ss.UserAgent, string(sum[:uaRefLen])
	} else {
		ua = ss.UserAgent // kept in the hash
	}
	args := make([]any, 0, 8+2*nFields)
	args = append(args, s.prefix, string(ss.ID[:]), ss.UserID, string(ss.Handle[:]),
		micros(earliest(ss.IdleDeadline, ss.AbsoluteDeadline)), ceilMillis(ss.AbsoluteDeadline), ua, ref,
		"u", ss.UserID, "c", micros(ss.CreatedAt), "i", micros(ss.IdleDeadline), "a", micros(ss.AbsoluteDeadline),
		"p", encodeIP(ss.CreatedIP), "h", string(ss.Handle[:])+string(ss.Secret[:]))
	opt := func(set bool, field string, value any) {
		if set {
			args = append(args, field, value)
		}
	}
	opt(!ss.LastSeenAt.Equal(ss.CreatedAt), "l", micros(ss.LastSeenAt))
	opt(ss.LastIP != ss.CreatedIP, "q", encodeIP(ss.LastIP))
	opt(ss.Epoch != 0, "e", ss.Epoch)
	opt(ss.Method != "", "m", ss.Method)
	opt(!ss.AuthAt.Equal(ss.CreatedAt), "A", micros(ss.AuthAt))
	opt(ss.Gen != 0, "g", ss.Gen)
	opt(ss.SeenGen != 0, "n", ss.SeenGen)
	opt(!ss.SeenAt.Equal(ss.CreatedAt), "S", micros(ss.SeenAt))
	opt(!ss.IssuedAt.Equal(ss.CreatedAt), "I", micros(ss.IssuedAt))
	for i := 0; i < len(ss.BindKey); i += pieceLen {
		name := "K"
		if i > 0 {
			name += strconv.Itoa(i / pieceLen)
		}
		args = append(args, name, ss.BindKey[i:min(i+pieceLen, len(ss.BindKey))])
	}
	opt(!ss.BoundAt.IsZero(), "B", micros(ss.BoundAt))
	opt(ss.BindSeq != 0, "Q", ss.BindSeq)
	opt(ss.Unbound != 0, "N", ss.Unbound)
	n, err := createScript.Run(ctx, s.c, []string{s.sessionKey(ss.ID)}, args...).Int()
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

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Find reads the session in one script, which also reads its User-Agent
// when it is kept apart.
func (s *Store) Find(ctx context.Context, id session.ID) (session.Session, error) {
	var ss session.Session
	err := s.converted(ctx, func() error {
		vals, err := findScript.Run(ctx, s.c, []string{s.sessionKey(id)}, s.prefix).Slice()
		if err != nil {
			return err
		}
		ss, err = parse(id, vals)
		return err
	})
	if err != nil {
		return session.Session{}, mapErr(err)
	}
	return ss, nil
}

func (s *Store) FindHandle(ctx context.Context, h session.Handle) (session.Session, error) {
	if h.IsZero() {
		return session.Session{}, session.ErrNotFound
	}
	var ss session.Session
	err := s.converted(ctx, func() error {
		vals, err := findHandleScript.Run(ctx, s.c, []string{s.bucketKey(h)}, s.prefix, string(h[:]), h.String()).Slice()
		if err != nil {
			return err
		}
		if len(vals) != 1+len(fields) {
			return fmt.Errorf("find by handle returned %d values", len(vals))
		}
		id, err := rawID(vals[0])
		if err != nil {
			return fmt.Errorf("corrupt handle entry in %s: %w", s.bucketKey(h), err)
		}
		ss, err = parse(id, vals[1:])
		return err
	})
	if err != nil {
		return session.Session{}, mapErr(err)
	}
	return ss, nil
}

func (s *Store) Touch(ctx context.Context, id session.ID, now, seenBefore, idleDeadline time.Time, lastIP string) error {
	return found(s.run(ctx, touchScript, []string{s.sessionKey(id)},
		s.prefix, micros(now), micros(idleDeadline), encodeIP(lastIP), micros(seenBefore)))
}

// run runs a script that answers a number, converting a session of the
// previous layout that it meets.
func (s *Store) run(ctx context.Context, sc *redis.Script, keys []string, args ...any) (int64, error) {
	var n int64
	err := s.converted(ctx, func() error {
		var err error
		n, err = sc.Run(ctx, s.c, keys, args...).Int64()
		return err
	})
	return n, err
}

func (s *Store) Rotate(ctx context.Context, oldID, newID session.ID, now, authAt time.Time, epoch int64) error {
	n, err := s.run(ctx, rotateScript, []string{s.sessionKey(oldID), s.sessionKey(newID)},
		s.prefix, string(newID[:]), micros(now), micros(authAt), epoch)
	if err == nil && n < 0 {
		return session.ErrExists
	}
	return found(n, err)
}

func (s *Store) Renew(ctx context.Context, oldID, newID session.ID, gen int64, now, idleDeadline time.Time, lastIP string) error {
	n, err := s.run(ctx, renewScript,
		[]string{s.sessionKey(oldID), s.sessionKey(newID), s.endingKey(oldID), s.endings},
		s.prefix, oldID.String(), string(newID[:]), gen, micros(now), micros(idleDeadline), encodeIP(lastIP))
	if err == nil && n < 0 {
		return session.ErrExists
	}
	return found(n, err)
}

func (s *Store) Seen(ctx context.Context, id session.ID, gen int64, now time.Time) error {
	return found(s.run(ctx, seenScript, []string{s.sessionKey(id)}, micros(now), gen))
}

func (s *Store) Bind(ctx context.Context, id session.ID, now time.Time, seq int64, key string) error {
	if len(key) > maxBindKey {
		return fmt.Errorf("redisstore: bind key of %d bytes, more than %d", len(key), maxBindKey)
	}
	return found(s.run(ctx, bindScript, []string{s.sessionKey(id)}, micros(now), seq, key))
}

func (s *Store) NoteUnbound(ctx context.Context, id session.ID, now time.Time) (int64, error) {
	n, err := s.run(ctx, noteUnboundScript, []string{s.sessionKey(id)}, micros(now))
	if err != nil {
		return 0, mapErr(err)
	}
	return n, nil
}

func (s *Store) Delete(ctx context.Context, id session.ID, now time.Time, why string) error {
	return found(s.run(ctx, deleteScript, []string{s.sessionKey(id), s.endingKey(id), s.endings},
		s.prefix, id.String(), string(id[:]), micros(now), why))
}

func (s *Store) DeleteForUser(ctx context.Context, userID string, id session.ID, now time.Time, why string) error {
	return found(s.run(ctx, deleteScript, []string{s.sessionKey(id), s.endingKey(id), s.endings},
		s.prefix, id.String(), string(id[:]), micros(now), why, userID))
}

// maxOldSetRounds bounds how often List and DeleteAllForUser convert a
// user's set of the previous layout: it reappears only if an instance of an
// earlier version writes to it.
const maxOldSetRounds = 3

// DeleteAllForUser deletes the user's sessions in scripts of about 100
// each; see the package documentation for what it guarantees.
func (s *Store) DeleteAllForUser(ctx context.Context, userID string, except session.ID, now time.Time, why string) (int, error) {
	keepID := ""
	if !except.IsZero() {
		keepID = except.String()
	}
	keys := []string{s.userKey(userID), s.oldUserKey(userID), s.endings}
	total, cursor, keep, rounds := 0, "0", "", 0
	for {
		vals, err := deleteAllScript.Run(ctx, s.c, keys, s.prefix, userID, cursor, keepID, keep, micros(now), why).Slice()
		if isOldSet(err) && rounds < maxOldSetRounds {
			rounds++
			if err := s.convertUser(ctx, userID); err != nil {
				return total, err
			}
			cursor = "0"
			continue
		}
		if err != nil {
			return total, mapErr(err)
		}
		if len(vals) != 3 {
			return total, fmt.Errorf("redisstore: delete all returned %d values", len(vals))
		}
		n, _ := vals[1].(int64)
		total += int(n)
		keep, _ = vals[2].(string)
		if cursor, _ = vals[0].(string); cursor == "0" || cursor == "" {
			return total, nil
		}
	}
}

func (s *Store) Ended(ctx context.Context, id session.ID) (session.Ending, error) {
	vals, err := endedScript.Run(ctx, s.c, []string{s.endingKey(id)}).Slice()
	if err != nil {
		return session.Ending{}, mapErr(err)
	}
	if len(vals) == 0 || vals[0] == nil && vals[1] == nil && vals[2] == nil {
		return session.Ending{}, session.ErrNotFound
	}
	if len(vals) != 6 {
		return session.Ending{}, fmt.Errorf("redisstore: ending returned %d values", len(vals))
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

// List reads the user's sessions in scripts of about 100 each; see the
// package documentation for what it guarantees.
func (s *Store) List(ctx context.Context, userID string, now time.Time) ([]session.Session, error) {
	keys := []string{s.userKey(userID), s.oldUserKey(userID)}
	byHandle := map[session.Handle]session.Session{}
	cursor, rounds := "0", 0
	for {
		vals, err := listScript.Run(ctx, s.c, keys, s.prefix, userID, micros(now), cursor).Slice()
		if isOldSet(err) && rounds < maxOldSetRounds {
			rounds++
			if err := s.convertUser(ctx, userID); err != nil {
				return nil, err
			}
			cursor = "0"
			continue
		}
		if err != nil {
			return nil, mapErr(err)
		}
		width := 1 + len(fields) // raw id, then the fields
		if len(vals) == 0 || (len(vals)-1)%width != 0 {
			return nil, fmt.Errorf("redisstore: list returned %d values", len(vals))
		}
		for i := 1; i < len(vals); i += width {
			id, err := rawID(vals[i])
			if err != nil {
				return nil, fmt.Errorf("redisstore: corrupt handle entry of a session of %s: %w", s.userKey(userID), err)
			}
			ss, err := parse(id, vals[i+1:i+width])
			if err != nil {
				return nil, mapErr(err)
			}
			// A session renewed between two scripts may come twice; the
			// later read is the newer.
			byHandle[ss.Handle] = ss
		}
		if cursor, _ = vals[0].(string); cursor == "0" || cursor == "" {
			break
		}
	}
	list := make([]session.Session, 0, len(byHandle))
	for _, ss := range byHandle {
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

// endingsBatch is how many due endings one script of DeleteExpired looks at.
const endingsBatch = 500

// DeleteExpired sweeps up to limit sessions in one script. Then it forgets
// every ending past its deadline, however many, in scripts of endingsBatch
// each, so that a backlog (after the sweeper was stopped for hours, say)
// never blocks the server for long. Most were expired by Redis already and
// cost a ZREM each. Any that a failed call leaves, Ended ignores anyway.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n, err := sweepScript.Run(ctx, s.c, []string{s.due, s.expiry}, s.prefix, micros(now), limit).Int()
	if err != nil {
		return 0, mapErr(err)
	}
	kept := 0
	for {
		r, err := forgetScript.Run(ctx, s.c, []string{s.endings}, s.prefix, micros(now), kept, endingsBatch).Int64Slice()
		if err != nil {
			return n, mapErr(err)
		}
		if len(r) != 2 {
			return n, fmt.Errorf("redisstore: forgetting endings returned %d values", len(r))
		}
		kept += int(r[1])
		if r[0] < endingsBatch {
			return n, nil
		}
	}
}

// parse builds a session from the values of fields, in order, as the
// scripts that read return them (with the User-Agent and the whole bind
// key). A missing field takes its default.
func parse(id session.ID, vals []any) (session.Session, error) {
	if len(vals) != len(fields) {
		return session.Session{}, fmt.Errorf("%d values for the %d fields of session %s", len(vals), len(fields), id.Short())
	}
	var str [len(fields)]string
	var has [len(fields)]bool
	for i, v := range vals {
		sv, ok := v.(string)
		if !ok && v != nil {
			return session.Session{}, fmt.Errorf("corrupt session %s: field %s is %T", id.Short(), fields[i], v)
		}
		str[i], has[i] = sv, ok
	}
	bad := func(i int, err error) error {
		return fmt.Errorf("corrupt session %s: field %s: %w", id.Short(), fields[i], err)
	}
	for _, i := range [...]int{fUserID, fCreatedAt, fIdleDeadline, fAbsDeadline, fCreatedIP, fHandle} {
		if !has[i] {
			return session.Session{}, bad(i, errors.New("missing"))
		}
	}
	ss := session.Session{
		ID:        id,
		UserID:    str[fUserID],
		UserAgent: str[fUserAgent],
		Method:    str[fMethod],
		BindKey:   str[fBindKey],
	}
	if has[fUserAgentRef] {
		ss.UserAgent = str[fUserAgentRef]
	}
	var err error
	if ss.CreatedIP, err = decodeIP(str[fCreatedIP]); err != nil {
		return session.Session{}, bad(fCreatedIP, err)
	}
	ss.LastIP = ss.CreatedIP
	if has[fLastIP] {
		if ss.LastIP, err = decodeIP(str[fLastIP]); err != nil {
			return session.Session{}, bad(fLastIP, err)
		}
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
	hs := str[fHandle]
	if len(hs) != len(ss.Handle)+len(ss.Secret) {
		return session.Session{}, bad(fHandle, fmt.Errorf("%d bytes, want %d", len(hs), len(ss.Handle)+len(ss.Secret)))
	}
	copy(ss.Handle[:], hs)
	copy(ss.Secret[:], hs[len(ss.Handle):])
	return ss, nil
}

// rawID reads an ID that a script returned as its 32 bytes.
func rawID(v any) (session.ID, error) {
	var id session.ID
	s, _ := v.(string)
	if len(s) != len(id) {
		return id, fmt.Errorf("an ID of %d bytes", len(s))
	}
	copy(id[:], s)
	return id, nil
}

// IP addresses in canonical form take 5 or 17 bytes instead of up to 39;
// anything else is kept as text, marked if it could be mistaken for one.
const (
	ipText = "\x00"
	ipV4   = "\x04"
	ipV6   = "\x06"
)

func encodeIP(s string) string {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" && a.String() == s {
		if a.Is4() {
			b := a.As4()
			return ipV4 + string(b[:])
		}
		b := a.As16()
		return ipV6 + string(b[:])
	}
	if s != "" && strings.ContainsAny(s[:1], ipText+ipV4+ipV6) {
		return ipText + s
	}
	return s
}

func decodeIP(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	switch v[:1] {
	case ipText:
		return v[1:], nil
	case ipV4:
		if len(v) != 1+4 {
			return "", fmt.Errorf("IPv4 address of %d bytes", len(v)-1)
		}
		return netip.AddrFrom4([4]byte([]byte(v[1:]))).String(), nil
	case ipV6:
		if len(v) != 1+16 {
			return "", fmt.Errorf("IPv6 address of %d bytes", len(v)-1)
		}
		return netip.AddrFrom16([16]byte([]byte(v[1:]))).String(), nil
	}
	return v, nil
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
func found(n int64, err error) error {
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
	if errors.Is(err, redis.Nil) || errors.Is(err, session.ErrNotFound) {
		return session.ErrNotFound
	}
	if strings.HasPrefix(err.Error(), "redisstore: ") {
		return err
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
