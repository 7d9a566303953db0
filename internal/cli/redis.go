package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/config"
)

// redisTimeout bounds each step of reaching a Redis session store at
// startup: a wrong address fails in seconds, not after the Redis client's
// retries of dials that each wait for long.
var redisTimeout = 3 * time.Second

// checkRedisURL reports a --session-store value that is not a Redis URL,
// its password hidden.
func checkRedisURL(raw string) error {
	if raw == "" {
		return nil
	}
	_, err := redis.ParseURL(raw)
	if err == nil {
		return nil
	}
	// url.Parse's errors quote the URL, or the part of it that does not
	// parse, which can be part of a password.
	why := strings.TrimPrefix(err.Error(), "redis: ")
	var ue *url.Error
	if errors.As(err, &ue) {
		why = ue.Err.Error()
		if config.RedactURL(raw) != raw {
			why = "it does not parse"
		}
	}
	return fmt.Errorf("--session-store %s is not a Redis URL (%s): use redis://[user:password@]host:port[/database], or rediss:// for TLS",
		config.RedactURL(raw), why)
}

// redisError is a Redis session store that could not be reached.
type redisError struct {
	url   string // redacted
	cause error
}

func (e *redisError) Error() string {
	cause := e.cause.Error()
	if errors.Is(e.cause, context.DeadlineExceeded) || errors.Is(e.cause, os.ErrDeadlineExceeded) {
		cause = fmt.Sprintf("no answer within %v", redisTimeout)
	}
	cause = strings.Join(strings.Fields(cause), " ")
	return fmt.Sprintf("cannot reach the Redis session store at %s: %s. Check that Redis is running there and that the host, port, password and database number of --session-store (or CONNECTBOOK_SESSION_STORE) are right.",
		e.url, cause)
}

// pingRedis connects to the Redis at raw once, bounded by redisTimeout.
func pingRedis(ctx context.Context, raw string) error {
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return checkRedisURL(raw)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = redisTimeout, redisTimeout, redisTimeout
	opt.DialerRetries, opt.MaxRetries = 1, -1
	opt.ContextTimeoutEnabled = true
	client := redis.NewClient(opt)
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		return &redisError{url: config.RedactURL(raw), cause: err}
	}
	return nil
}

// openApp opens the app. A Redis session store that cannot be reached
// makes it fail within a few seconds with one clear error, rather than
// after the Redis client's own retries.
func openApp(ctx context.Context, o app.Options) (*app.App, error) {
	if o.SessionStore == "" {
		return app.Open(ctx, o)
	}
	if err := checkRedisURL(o.SessionStore); err != nil {
		return nil, err
	}
	reachErr := pingRedis(ctx, o.SessionStore)
	if reachErr == nil {
		return app.Open(ctx, o)
	}
	if !o.Admin {
		return nil, reachErr
	}
	// Open still runs, briefly: before it connects, it refuses a store of
	// another kind than the one serve uses, which is the better advice.
	bounded, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	a, err := app.Open(bounded, o)
	switch {
	case err == nil: // Redis came back meanwhile
		return a, nil
	case bounded.Err() != nil || strings.HasPrefix(err.Error(), "session store:"): // Open's words for Redis failing
		return nil, reachErr
	}
	return nil, err
}
