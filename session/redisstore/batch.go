package redisstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// getBatcher sends the GETs of concurrent requests as pipelines ("natural
// batching"): a few senders each take one waiting GET, add whatever else is
// waiting at that moment, and send them together. An idle BFF sends each
// GET at once, as before; under load many GETs share one round trip, which
// saves this process and Redis a write and a read system call per GET.
// Nothing is cached, so a session deleted by another instance is gone for
// the next request, as without batching.
type getBatcher struct {
	client redis.UniversalClient
	// timeout is how long a GET may wait for a sender: while Redis hangs,
	// senders are stuck for a read timeout each, and the requests queued
	// behind them must fail in bounded time, not wait their turn.
	timeout time.Duration
	queue   chan *getCall
	stop    chan struct{}
	once    sync.Once // closes stop
	wg      sync.WaitGroup
}

// getCall is one waiting GET. done is buffered so a sender never blocks on
// a caller that stopped waiting.
type getCall struct {
	key    string
	queued time.Time
	val    []byte
	err    error
	done   chan struct{}
}

const (
	batchSenders = 4  // pipelines in flight at once
	batchMax     = 64 // GETs per pipeline
)

var getCalls = sync.Pool{New: func() any { return &getCall{done: make(chan struct{}, 1)} }}

func newGetBatcher(client redis.UniversalClient, timeout time.Duration) *getBatcher {
	b := &getBatcher{client: client, timeout: timeout, queue: make(chan *getCall, batchSenders*batchMax), stop: make(chan struct{})}
	b.wg.Add(batchSenders)
	for range batchSenders {
		go b.send()
	}
	return b
}

var (
	errBatcherClosed = errors.New("redis get: store closed")
	errQueueTimeout  = errors.New("redis get: timed out waiting for a connection")
)

// get returns key's value; redis.Nil when it has none.
func (b *getBatcher) get(ctx context.Context, key string) ([]byte, error) {
	c := getCalls.Get().(*getCall)
	c.key, c.queued = key, time.Now()
	select {
	case b.queue <- c:
	case <-ctx.Done():
		getCalls.Put(c)
		return nil, ctx.Err()
	case <-b.stop:
		getCalls.Put(c)
		return nil, errBatcherClosed
	}
	select {
	case <-c.done:
		val, err := c.val, c.err
		c.val, c.err = nil, nil
		getCalls.Put(c)
		return val, err
	case <-ctx.Done():
		return nil, ctx.Err() // c is the sender's to finish; not reused
	case <-b.stop:
		return nil, errBatcherClosed
	}
}

func (b *getBatcher) send() {
	defer b.wg.Done()
	batch := make([]*getCall, 0, batchMax)
	cmds := make([]*redis.StringCmd, 0, batchMax)
	for {
		select {
		case c := <-b.queue:
			batch = append(batch[:0], c)
		case <-b.stop:
			return
		}
	fill:
		for len(batch) < batchMax {
			select {
			case c := <-b.queue:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		batch = b.dropStale(batch)
		if len(batch) == 0 {
			continue
		}
		// The client's read and write timeouts bound the round trip; no
		// caller's context may cancel the others' GETs.
		ctx := context.Background()
		if len(batch) == 1 {
			c := batch[0]
			c.val, c.err = b.client.Get(ctx, c.key).Bytes()
			c.done <- struct{}{}
			continue
		}
		cmds = cmds[:0]
		pipe := b.client.Pipeline()
		for _, c := range batch {
			cmds = append(cmds, pipe.Get(ctx, c.key))
		}
		_, execErr := pipe.Exec(ctx)
		// A reply error (redis.Nil for a missing key) belongs to its own
		// command. Any other error (no connection, a timeout) may have
		// left commands without an error of their own, and no reply.
		var reply redis.Error
		failed := execErr != nil && !errors.As(execErr, &reply)
		for i, c := range batch {
			c.val, c.err = cmds[i].Bytes()
			if failed && c.err == nil {
				c.val, c.err = nil, execErr
			}
			c.done <- struct{}{}
		}
		clear(batch)
	}
}

// dropStale fails the calls that waited longer than the timeout and
// returns the others.
func (b *getBatcher) dropStale(batch []*getCall) []*getCall {
	now := time.Now()
	kept := batch[:0]
	for _, c := range batch {
		if now.Sub(c.queued) > b.timeout {
			c.err = errQueueTimeout
			c.done <- struct{}{}
			continue
		}
		kept = append(kept, c)
	}
	clear(batch[len(kept):])
	return kept
}

func (b *getBatcher) close() {
	b.once.Do(func() { close(b.stop) })
	b.wg.Wait()
}
