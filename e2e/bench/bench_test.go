package main

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestHistIndexBounds(t *testing.T) {
	// Every value lies within its bucket, buckets are ordered, and a bucket
	// is at most 1/64 of its values wide.
	vals := []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 999_999, 1 << 40, 1<<63 - 1, 1<<64 - 1}
	for range 1000 {
		vals = append(vals, rand.Uint64()>>rand.IntN(64))
	}
	for _, v := range vals {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d, out of range", v, i)
		}
		lo := uint64(0)
		if i > 0 {
			lo = histUpper(i-1) + 1
		}
		if hi := histUpper(i); v < lo || v > hi {
			t.Errorf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		} else if v >= 64 && float64(hi-lo+1)/float64(lo) > 1.0/64 {
			t.Errorf("bucket %d = [%d, %d] wider than 1/64", i, lo, hi)
		}
	}
}

func TestHistQuantile(t *testing.T) {
	var h hist
	var samples []time.Duration
	for range 100_000 {
		d := time.Duration(rand.ExpFloat64() * float64(time.Millisecond))
		samples = append(samples, d)
		h.record(d)
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := samples[int(q*float64(len(samples)))-1]
		got := h.quantile(q)
		if diff := float64(got-want) / float64(want); diff < -0.001 || diff > 1.0/64+0.001 {
			t.Errorf("quantile(%v) = %v, want %v (within 1.6%% above)", q, got, want)
		}
	}
	var empty hist
	if got := empty.quantile(0.99); got != 0 {
		t.Errorf("empty quantile = %v, want 0", got)
	}
}

func TestHistMerge(t *testing.T) {
	var a, b, all hist
	for i := range 1000 {
		d := time.Duration(i) * time.Microsecond
		all.record(d)
		if i%2 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	a.merge(&b)
	if a.total != all.total || a.max != all.max || a.quantile(0.5) != all.quantile(0.5) {
		t.Errorf("merge = (%d, %d, %v), want (%d, %d, %v)", a.total, a.max, a.quantile(0.5), all.total, all.max, all.quantile(0.5))
	}
}

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantStatus int
		wantKeep   bool
		wantErr    bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, true, false},
		{"case-insensitive", "HTTP/1.1 200 OK\r\ncontent-length:  5 \r\n\r\nhello", 200, true, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n3\r\nabc\r\n0\r\nTrailer: v\r\n\r\n", 200, true, false},
		{"close", "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", 502, false, false},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, false, false},
		{"http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 200, true, false},
		{"no length", "HTTP/1.1 200 OK\r\n\r\nuntil close", 200, false, false},
		{"no body 204", "HTTP/1.1 204 No Content\r\n\r\n", 204, true, false},
		{"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", 0, false, true},
		{"garbage", "SSH-2.0-OpenSSH\r\n\r\n", 0, false, true},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, false, true},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 200, true, true},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, keep, err := readResponse(bufio.NewReader(strings.NewReader(tt.in)))
			if (err != nil) != tt.wantErr {
				t.Fatalf("readResponse() error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (status != tt.wantStatus || keep != tt.wantKeep) {
				t.Errorf("readResponse() = %d, %v, want %d, %v", status, keep, tt.wantStatus, tt.wantKeep)
			}
		})
	}
}

// Two responses back to back: the first must be consumed exactly.
func TestReadResponsePipelined(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc" +
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n" +
		"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	for _, want := range []int{200, 200, 404} {
		got, _, err := readResponse(br)
		if err != nil || got != want {
			t.Fatalf("readResponse() = %d, %v, want %d", got, err, want)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("left over input: %v", err)
	}
}

func TestBuildRequest(t *testing.T) {
	got := string(buildRequest("127.0.0.1:1", "/api/orders/42", "__Host-bff=abc"))
	want := "GET /api/orders/42 HTTP/1.1\r\nHost: 127.0.0.1:1\r\nUser-Agent: bff-bench/1\r\n" +
		"Accept: application/json\r\nX-CSRF: 1\r\nCookie: __Host-bff=abc\r\n\r\n"
	if got != want {
		t.Errorf("buildRequest() = %q, want %q", got, want)
	}
}

func TestParseStores(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"bolt,redis", []string{"bolt", "redis"}, false},
		{"redis-nonear,postgres", []string{"redis-nonear", "postgres"}, false},
		{" Redis , bolt,redis", []string{"redis", "bolt"}, false},
		{"bolt", []string{"bolt"}, false},
		{"", nil, true},
		{"bolt,memcached", nil, true},
	}
	for _, tt := range tests {
		got, err := parseStores(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("parseStores(%q) = %v, %v, want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestProfilePath(t *testing.T) {
	tests := []struct{ file, target, want string }{
		{"/tmp/cpu.pprof", "bff", "/tmp/cpu.pprof"},
		{"/tmp/cpu.pprof", "bare", "/tmp/cpu-bare.pprof"},
		{"/tmp/cpu.pprof", "bff-redis", "/tmp/cpu-bff-redis.pprof"},
		{"/tmp.d/cpu", "bare", "/tmp.d/cpu-bare"},
		{"cpu", "bare", "cpu-bare"},
		{"", "bare", ""},
	}
	for _, tt := range tests {
		if got := profilePath(tt.file, tt.target); got != tt.want {
			t.Errorf("profilePath(%q, %q) = %q, want %q", tt.file, tt.target, got, tt.want)
		}
	}
}

func TestVerdicts(t *testing.T) {
	total := func(name string, ok uint64, p99 time.Duration) *targetTotal {
		tt := &targetTotal{name: name, ok: ok, elapsed: time.Second}
		tt.hist.record(p99)
		return tt
	}
	bare := total("bare", 1000, 2*time.Millisecond)
	tests := []struct {
		t    *targetTotal
		want []string // substrings, in order
	}{
		{total("bff", 960, 2400*time.Microsecond), []string{"0.960", ">= 0.95", "PASS", "<= +500µs", "PASS"}},
		{total("bff", 940, 2600*time.Microsecond), []string{"0.940", "MISS", "MISS"}},
		{total("bff-redis", 900, 2*time.Millisecond), []string{"0.900", ">= 0.90", "PASS", "PASS"}},
		{total("bff-redis", 890, 9*time.Millisecond), []string{"0.890", "MISS", "MISS"}},
		{total("bff-redis-nonear", 700, 9*time.Millisecond), []string{"0.700", "no target", "no target"}},
		{total("bff-postgres", 760, 9*time.Millisecond), []string{"0.760", ">= 0.75", "PASS", "no target"}},
		{total("bff-postgres", 740, time.Millisecond), []string{"0.740", "MISS", "no target"}},
	}
	for _, tt := range tests {
		got := strings.Join(verdicts(bare, tt.t), "\n")
		rest := got
		for _, w := range tt.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("verdicts(%s) = %q, want %q in order", tt.t.name, got, tt.want)
				break
			}
			rest = rest[i+len(w):]
		}
	}
}

func TestClaimsVerdicts(t *testing.T) {
	total := func(ok uint64) *targetTotal { return &targetTotal{name: claimsTarget, ok: ok, elapsed: time.Second} }
	bff := &targetTotal{name: "bff", ok: 1000, elapsed: time.Second}
	for _, tt := range []struct {
		t    *targetTotal
		want string
	}{{total(985), "0.985  (target >= 0.98)  PASS"}, {total(970), "0.970  (target >= 0.98)  MISS"}} {
		if got := strings.Join(claimsVerdicts(bff, tt.t), "\n"); !strings.Contains(got, "bff-claims/bff throughput ratio  "+tt.want) {
			t.Errorf("claimsVerdicts(%d req/s) = %q, want %q", tt.t.ok, got, tt.want)
		}
	}
}

func TestFmtDur(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{1500, "1.50µs"},
		{250 * time.Microsecond, "250µs"},
		{1234 * time.Microsecond, "1.23ms"},
		{31234 * time.Microsecond, "31.2ms"},
		{2 * time.Second, "2.00s"},
	}
	for _, tt := range tests {
		if got := fmtDur(tt.d); got != tt.want {
			t.Errorf("fmtDur(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := fmtSigned(-time.Millisecond); got != "-1.00ms" {
		t.Errorf("fmtSigned(-1ms) = %q, want -1.00ms", got)
	}
}

// The generator must not allocate per request.
func TestReadResponseAllocs(t *testing.T) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello")
	r := bytes.NewReader(resp)
	br := bufio.NewReader(r)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(resp)
		br.Reset(r)
		if _, _, err := readResponse(br); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("readResponse allocates %v times per response, want 0", allocs)
	}
}
