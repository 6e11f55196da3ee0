package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// routeTransport returns the RoundTripper of rt: base cloned with rt's
// response-header timeout, or a new tuned transport when base is nil.
func routeTransport(base http.RoundTripper, rt *route) http.RoundTripper {
	switch t := base.(type) {
	case nil:
		return newTransport(rt)
	case *http.Transport:
		c := t.Clone()
		c.ResponseHeaderTimeout = rt.Timeout
		return c
	default:
		return &headerTimeoutTransport{next: t, timeout: rt.Timeout}
	}
}

// newTransport is the default transport of rt, tuned for a proxy and
// restricted to rt's upstream.
func newTransport(rt *route) *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	allowed := upstreamAddr(rt.origin.Scheme, rt.origin.Hostname(), rt.origin.Port())
	return &http.Transport{
		// Proxy is nil on purpose: HTTP_PROXY from the environment would
		// dial a host other than the upstream.
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			// Defence in depth: Rewrite always sets the route's host, so
			// this only fires if that ever breaks.
			if addr != allowed {
				return nil, fmt.Errorf("proxy: refusing to dial %s: the route's upstream is %s", addr, allowed)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     rt.origin.Scheme == "https",
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256, // Go's default of 2 makes a busy proxy redial constantly
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		ResponseHeaderTimeout: rt.Timeout,
	}
}

// upstreamAddr is the address http.Transport dials for a URL, to compare
// with DialContext's addr.
func upstreamAddr(scheme, host, port string) string {
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(host, port)
}

// timeoutError is returned when an upstream behind a custom RoundTripper
// sends no response headers within the route's Timeout.
type timeoutError struct{}

func (timeoutError) Error() string   { return "proxy: timeout awaiting response headers" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// headerTimeoutTransport enforces a response-header timeout on a
// RoundTripper that is not an *http.Transport. The context it adds lives
// until the response body is closed.
type headerTimeoutTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t *headerTimeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(t.timeout, func() { cancel(timeoutError{}) })
	res, err := t.next.RoundTrip(req.WithContext(ctx))
	timer.Stop()
	if err != nil {
		if _, ok := context.Cause(ctx).(timeoutError); ok {
			err = timeoutError{}
		}
		cancel(nil)
		return nil, err
	}
	release := func() { cancel(nil) }
	if rwc, ok := res.Body.(io.ReadWriteCloser); ok && res.StatusCode == http.StatusSwitchingProtocols {
		res.Body = &releaseReadWriteCloser{ReadWriteCloser: rwc, release: release}
	} else {
		res.Body = &releaseReadCloser{ReadCloser: res.Body, release: release}
	}
	return res, nil
}

type releaseReadCloser struct {
	io.ReadCloser
	release func()
}

func (b *releaseReadCloser) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

type releaseReadWriteCloser struct {
	io.ReadWriteCloser
	release func()
}

func (b *releaseReadWriteCloser) Close() error {
	err := b.ReadWriteCloser.Close()
	b.release()
	return err
}

// copyBuffers lends ReverseProxy its 32 KiB copy buffers; without a pool it
// allocates one per request.
var copyBuffers = &bufferPool{}

const copyBufferSize = 32 << 10

type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[copyBufferSize]byte); ok {
		return b[:]
	}
	return new([copyBufferSize]byte)[:]
}

func (p *bufferPool) Put(b []byte) {
	if len(b) == copyBufferSize {
		p.pool.Put((*[copyBufferSize]byte)(b))
	}
}
