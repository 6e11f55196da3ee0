package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// hist is a log-linear latency histogram in nanoseconds, like HDR
// histograms: each power of two is split into 64 buckets, so a reported
// percentile is within 1/64 (1.6%) of the true value. Recording is
// allocation-free; one hist per worker, merged at the end.
type hist struct {
	counts [histBuckets]uint64
	total  uint64
	max    uint64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits // buckets per power of two
	histBuckets = histSub + (64-histSubBits)*histSub
)

// histIndex is the bucket of v.
func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - 1 // v is in [2^e, 2^(e+1))
	shift := e - histSubBits
	return histSub + shift*histSub + int(v>>shift) - histSub
}

// histUpper is the highest value that falls in bucket i.
func histUpper(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := (i - histSub) / histSub
	sub := uint64((i-histSub)%histSub + histSub)
	return (sub+1)<<shift - 1
}

func (h *hist) record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[histIndex(v)]++
	h.total++
	h.max = max(h.max, v)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// quantile returns the value at quantile q (0 < q <= 1): the upper bound of
// the bucket holding the ceil(q*total)-th smallest sample, capped at the
// largest sample seen.
func (h *hist) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.999999)
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(histUpper(i), h.max))
		}
	}
	return time.Duration(h.max)
}

// Phases of a run, read by every worker after each response.
const (
	phaseWarm int32 = iota
	phaseMeasure
	phaseDone
)

// loadTarget is one server under load and the request sent to it.
type loadTarget struct {
	name string
	addr string // host:port
	req  []byte // one complete HTTP/1.1 request
}

// buildRequest renders the GET every worker sends: the same headers to
// every target, as the SPA would send them.
func buildRequest(host, path, cookie string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, host)
	b.WriteString("User-Agent: bff-bench/1\r\nAccept: application/json\r\nX-CSRF: 1\r\n")
	if cookie != "" {
		fmt.Fprintf(&b, "Cookie: %s\r\n", cookie)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// workerResult is what one connection did while measuring.
type workerResult struct {
	hist     hist
	ok       uint64 // 2xx responses
	bad      uint64 // other statuses
	ioErrors uint64 // failed or closed connections
	lastErr  error
	status   int // last non-2xx status
}

// loadRun drives c keep-alive connections, each a closed loop of one
// request at a time over a raw net.Conn (no net/http on the client side,
// so the generator costs little CPU next to what it measures).
type loadRun struct {
	target loadTarget
	phase  atomic.Int32
	wg     sync.WaitGroup
	res    []*workerResult
}

func startLoad(t loadTarget, c int, deadline time.Time) (*loadRun, error) {
	lr := &loadRun{target: t, res: make([]*workerResult, c)}
	conns := make([]net.Conn, c)
	for i := range conns {
		conn, err := net.DialTimeout("tcp", t.addr, 5*time.Second)
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return nil, fmt.Errorf("dial %s (%s): %w", t.name, t.addr, err)
		}
		conns[i] = conn
	}
	for i, conn := range conns {
		lr.res[i] = &workerResult{}
		lr.wg.Add(1)
		go lr.worker(conn, lr.res[i], deadline)
	}
	return lr, nil
}

// stop ends the run and waits for every worker.
func (lr *loadRun) stop() {
	lr.phase.Store(phaseDone)
	lr.wg.Wait()
}

func (lr *loadRun) worker(conn net.Conn, res *workerResult, deadline time.Time) {
	defer lr.wg.Done()
	defer func() { conn.Close() }()
	br := bufio.NewReaderSize(conn, 16<<10)
	_ = conn.SetDeadline(deadline)
	for lr.phase.Load() != phaseDone {
		start := time.Now()
		status, keep, err := roundTrip(conn, br, lr.target.req)
		d := time.Since(start)
		measuring := lr.phase.Load() == phaseMeasure
		if err == nil && measuring {
			if status/100 == 2 {
				res.ok++
				res.hist.record(d)
			} else {
				res.bad++
				res.status = status
			}
		}
		if err != nil || !keep {
			if lr.phase.Load() == phaseDone && err != nil {
				return // the deadline or shutdown cut the last request
			}
			res.ioErrors++
			res.lastErr = err
			if err == nil {
				res.lastErr = errors.New("server closed the connection")
			}
			conn.Close()
			if conn, err = net.DialTimeout("tcp", lr.target.addr, 5*time.Second); err != nil {
				res.lastErr = err
				return
			}
			br.Reset(conn)
			_ = conn.SetDeadline(deadline)
		}
	}
}

func roundTrip(conn net.Conn, br *bufio.Reader, req []byte) (status int, keepAlive bool, err error) {
	if _, err := conn.Write(req); err != nil {
		return 0, false, err
	}
	return readResponse(br)
}

// readResponse reads one HTTP/1.1 response from br and discards its body.
// It understands Content-Length, chunked bodies and Connection: close; a
// body delimited by the connection's end is read and reported as not
// keep-alive.
func readResponse(br *bufio.Reader) (status int, keepAlive bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	status, ok := parseDigits(line[9:12])
	if !ok {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	keepAlive = line[7] == '1'
	length, chunked := int64(-1), false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("bad header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseDigits(value)
			if !ok {
				return 0, false, fmt.Errorf("bad Content-Length %q", value)
			}
			length = int64(n)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keepAlive = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				keepAlive = true
			}
		}
	}
	switch {
	case status/100 == 1 || status == 204 || status == 304:
		return status, keepAlive, nil
	case chunked:
		return status, keepAlive, discardChunked(br)
	case length >= 0:
		_, err = br.Discard(int(length))
		return status, keepAlive, err
	}
	_, err = io.Copy(io.Discard, br)
	return status, false, err
}

// parseDigits parses a short unsigned decimal number without allocating.
func parseDigits(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if n == 0 {
			// Trailers, then the empty line.
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}

// loadResult sums a run's workers.
type loadResult struct {
	hist     hist
	ok, bad  uint64
	ioErrors uint64
	lastErr  error
	status   int
}

func (lr *loadRun) result() *loadResult {
	out := &loadResult{}
	for _, r := range lr.res {
		out.hist.merge(&r.hist)
		out.ok += r.ok
		out.bad += r.bad
		out.ioErrors += r.ioErrors
		if r.lastErr != nil {
			out.lastErr = r.lastErr
		}
		if r.status != 0 {
			out.status = r.status
		}
	}
	return out
}
