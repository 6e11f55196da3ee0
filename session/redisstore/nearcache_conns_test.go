package redisstore_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bff-project/bff/session/redisstore"
	"github.com/bff-project/bff/session/redistest"
)

// stallProxy forwards TCP connections to addr and can stall any one of
// them: bytes are still read but held back, as on a half-dead link or a
// Cluster node that hangs while the others answer.
type stallProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []*atomic.Bool // stalled flag per accepted connection, in order
}

func newStallProxy(t *testing.T, addr string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			stalled := new(atomic.Bool)
			p.mu.Lock()
			p.conns = append(p.conns, stalled)
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				defer dst.Close()
				defer src.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					for stalled.Load() {
						time.Sleep(time.Millisecond)
					}
					if n > 0 {
						if _, werr := dst.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						if err != io.EOF {
							return
						}
						return
					}
				}
			}
			go pipe(u, c)
			go pipe(c, u)
		}
	}()
	return p
}

func (p *stallProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *stallProxy) stall(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[i].Store(true)
}

// TestNearCacheStallOfAnyConnectionEndsTrust: the near-cache is trusted
// while the heartbeat PING is answered within trustWindow, which bounds
// how long a hung Redis or a cut link can leave an instance serving a
// session ended elsewhere. rueidis keeps one cache per connection, and a
// keyless PING goes to one connection only, so every cached read must
// share the heartbeat's connection (PipelineMultiplex -1 with the
// near-cache; on Cluster the heartbeat pings every node). Before that,
// a read cached on a second connection outlived a stall of it by about
// 2 x redis_timeout, ten times the documented bound (found by review).
func TestNearCacheStallOfAnyConnectionEndsTrust(t *testing.T) {
	srv := redistest.Start(t)
	admin := redistest.Client(t, srv.URL)
	proxy := newStallProxy(t, srv.Addr())
	ctx := context.Background()
	const prefix = "stall:"
	s, err := redisstore.Open(ctx, redisstore.Config{URL: "redis://" + proxy.ln.Addr().String() + "/0", Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // heartbeat trusted
	base := proxy.count()

	// Reads of many keys (spread over rueidis' connection slots) dial no
	// connection the heartbeat does not cover.
	var key string
	for i := range 64 {
		k := "sess" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if err := admin.Do(ctx, admin.B().Set().Key(prefix+"s:"+k).Value("alive").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		before := proxy.count()
		if _, found, err := s.FindCtx(ctx, k); err != nil || !found {
			t.Fatalf("FindCtx(%s) = %v, %v", k, found, err)
		}
		if proxy.count() > before {
			t.Errorf("reading %s dialled connection %d, which the heartbeat does not cover", k, proxy.count())
		}
		key = k
	}
	if base == 0 {
		t.Fatal("the store made no connection")
	}
	// Cached now.
	if _, found, _ := s.FindCtx(ctx, key); !found {
		t.Fatal("not cached")
	}
	// Every connection stalls (there is one, the heartbeat's, unless the
	// check above failed).
	for i := range proxy.count() {
		proxy.stall(i)
	}

	// Another instance logs the session out.
	if err := admin.Do(ctx, admin.B().Del().Key(prefix+"s:"+key).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	var servedFor time.Duration
	for time.Since(deleted) < 5*time.Second {
		_, found, err := s.FindCtx(ctx, key)
		if err != nil || !found {
			break
		}
		servedFor = time.Since(deleted)
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("deleted session served from the near-cache for %v after the delete", servedFor)
	// README: at most trustWindow (150 ms); double allowed for a loaded
	// machine.
	if servedFor > 300*time.Millisecond {
		t.Errorf("a session deleted on another instance was served for %v from a stalled connection's cache; documented bound is 150 ms", servedFor)
	}
}
