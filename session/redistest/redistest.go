// Package redistest gives tests a Redis: the one named by
// BFF_TEST_REDIS_URL, or a private redis-server started from PATH on a free
// loopback port. It is imported only by _test.go files.
//
// When neither is available a test is skipped with a message saying so,
// unless BFF_TEST_REQUIRE (a comma-separated list such as "redis,chromium")
// contains "redis": then it fails, so CI cannot pass by skipping.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables.
const (
	EnvURL     = "BFF_TEST_REDIS_URL"
	EnvRequire = "BFF_TEST_REQUIRE"
)

// Server returns a Redis URL for t: BFF_TEST_REDIS_URL if set, otherwise a
// private redis-server stopped in t.Cleanup. Tests sharing one server keep
// apart by key prefix.
func Server(t testing.TB) (url string) {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return Start(t).URL
}

// Instance is a private redis-server that a test can stop and restart on
// the same port, to simulate an outage. Its methods fail t on error.
type Instance struct {
	// URL is redis://127.0.0.1:<port>/0.
	URL string

	t    testing.TB
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	proc *proc // nil while stopped
}

// Start starts a private redis-server (without persistence) and stops it
// in t.Cleanup. BFF_TEST_REDIS_URL does not apply: an outage test must own
// its server. It skips t when redis-server is not on PATH, or fails it
// when BFF_TEST_REQUIRE contains "redis".
func Start(t testing.TB) *Instance {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		why := "redis-server not on PATH and " + EnvURL + " unset"
		if os.Getenv(EnvURL) != "" {
			why = "redis-server not on PATH (this test needs a private server; " + EnvURL + " cannot be stopped)"
		}
		unavailable(t, why)
	}
	in := &Instance{t: t, bin: bin, dir: t.TempDir()}
	t.Cleanup(in.Stop)
	// A free port can be taken between probing and binding: try again.
	for attempt := 0; ; attempt++ {
		in.port = freePort(t)
		err = in.start()
		if err == nil {
			break
		}
		if attempt == 2 {
			t.Fatalf("redistest: %v", err)
		}
	}
	in.URL = fmt.Sprintf("redis://127.0.0.1:%d/0", in.port)
	return in
}

// Addr is the server's host:port.
func (in *Instance) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(in.port)) }

// Stop kills the server (its data is lost). Stopping a stopped server does
// nothing.
func (in *Instance) Stop() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.proc != nil {
		in.proc.kill()
		in.proc = nil
	}
}

// Restart starts the server again on the same port, empty.
func (in *Instance) Restart() {
	in.t.Helper()
	in.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := in.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("redistest: restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pause freezes the server with SIGSTOP: it keeps its connections and
// port but answers nothing, like a hung host. Resume undoes it.
// On systems without SIGSTOP it skips the test.
func (in *Instance) Pause() { in.signal("pause", sigStop) }

// Resume continues a paused server.
func (in *Instance) Resume() { in.signal("resume", sigCont) }

func (in *Instance) signal(op string, sig os.Signal) {
	in.t.Helper()
	if sig == nil {
		in.t.Skipf("redistest: %s needs SIGSTOP/SIGCONT", op)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.proc == nil {
		in.t.Fatalf("redistest: %s: server not running", op)
	}
	if err := in.proc.cmd.Process.Signal(sig); err != nil {
		in.t.Fatalf("redistest: %s: %v", op, err)
	}
}

func (in *Instance) start() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	logPath := filepath.Join(in.dir, "redis.log")
	_ = os.Remove(logPath)
	cmd := exec.Command(in.bin,
		"--port", strconv.Itoa(in.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", in.dir,
		"--logfile", logPath,
	)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(in.port))
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := ping(addr)
		if err == nil {
			in.proc = p
			return nil
		}
		select {
		case <-p.done:
		default:
			if time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			p.kill()
		}
		log, _ := os.ReadFile(logPath)
		return fmt.Errorf("redis-server on port %d did not answer PING (%v); log:\n%s", in.port, err, log)
	}
}

// proc is one run of redis-server; done closes when it has exited.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Kill() // SIGKILL also ends a paused server
	<-p.done
}

// ping sends an inline PING and wants +PONG, without a Redis client.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// unavailable skips t, or fails it when BFF_TEST_REQUIRE names redis.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("redistest: %s, but %s=%q requires redis", why, EnvRequire, os.Getenv(EnvRequire))
	}
	t.Skipf("redistest: %s", why)
}

// Required reports whether BFF_TEST_REQUIRE lists "redis".
func Required() bool {
	list := strings.Split(os.Getenv(EnvRequire), ",")
	for i := range list {
		list[i] = strings.ToLower(strings.TrimSpace(list[i]))
	}
	return slices.Contains(list, "redis")
}
