package redisstore

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// lazyClient makes the rueidis client on first use and again after a
// failed attempt, because rueidis dials when it builds a Sentinel or
// Cluster client and fails while Redis is down, and the BFF must start
// (and answer 503) while Redis is away. A one-server client is made at
// once: rueidis builds it without a connection and dials per call.
type lazyClient struct {
	opt     rueidis.ClientOption
	timeout time.Duration
	c       atomic.Pointer[clientBox]

	mu      sync.Mutex // one attempt at a time
	lastTry time.Time
	lastErr error
	closed  bool
}

type clientBox struct{ rueidis.Client }

var errClosed = errors.New("redis: store closed")

func newLazyClient(opt rueidis.ClientOption, timeout time.Duration) *lazyClient {
	l := &lazyClient{opt: opt, timeout: timeout}
	if opt.ForceSingleClient {
		if c, err := rueidis.NewClient(opt); c != nil {
			l.c.Store(&clientBox{c})
		} else {
			l.lastErr, l.lastTry = err, time.Now()
		}
	}
	return l
}

// get returns the client, making it if need be. While Redis cannot be
// reached, attempts are made at most once per timeout; calls in between
// get the last attempt's error at once.
func (l *lazyClient) get() (rueidis.Client, error) {
	if b := l.c.Load(); b != nil {
		return b.Client, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.c.Load(); b != nil {
		return b.Client, nil
	}
	if l.closed {
		return nil, errClosed
	}
	if l.lastErr != nil && time.Since(l.lastTry) < l.timeout {
		return nil, l.lastErr
	}
	c, err := rueidis.NewClient(l.opt)
	l.lastTry = time.Now()
	if err != nil {
		l.lastErr = err
		return nil, err
	}
	l.lastErr = nil
	l.c.Store(&clientBox{c})
	return c, nil
}

func (l *lazyClient) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if b := l.c.Swap(nil); b != nil {
		b.Close()
	}
}
