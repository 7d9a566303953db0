package account

import (
	"sync"
	"time"

	"github.com/connectbook/connectbook/internal/data"
)

// userCache keeps the users of recent requests for a moment, so that a
// signed-in page does not read its user from the database every time. It
// holds display data only: who a request is comes from the session, which
// is checked against the store on every request. An entry lives for ttl at
// most; this instance drops it at once when it changes the user, and
// another instance's change shows within ttl.
type userCache struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	m  map[int64]cachedUser
}

type cachedUser struct {
	user    data.User
	expires time.Time
}

func newUserCache(ttl time.Duration, max int) *userCache {
	return &userCache{ttl: ttl, max: max, m: make(map[int64]cachedUser)}
}

func (c *userCache) get(id int64, now time.Time) (data.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || !now.Before(e.expires) {
		return data.User{}, false
	}
	return e.user, true
}

func (c *userCache) put(u data.User, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m) // rare, and cheaper than tracking recency
	}
	c.m[u.ID] = cachedUser{user: u, expires: now.Add(c.ttl)}
}

// Forget drops the cached copy of a user whose row another package
// changed (a notification, a private setting), so this instance shows the
// change at once.
func (s *Service) Forget(id int64) { s.users.drop(id) }

func (c *userCache) drop(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
