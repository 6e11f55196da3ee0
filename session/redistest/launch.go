package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LaunchOptions describe a redis-server for [Launch]. The zero value is a
// server without persistence on a free port.
type LaunchOptions struct {
	// Bin is the redis-server binary. "" means the one on PATH.
	Bin string
	// Port is the loopback port to listen on. 0 means a free one, picked
	// again (up to three tries) when another process takes it first.
	Port int
	// Persistent turns on the append-only file with fsync always, so that
	// the data survives Kill and Restart as it would on a production Redis
	// with persistence. Default: off (--save "" --appendonly no).
	Persistent bool
	// Dir is the server's working directory (log and append-only file).
	// "" means a new temporary directory that Close removes; a given Dir is
	// left in place.
	Dir string
}

// Process is a redis-server started by [Launch] on 127.0.0.1. Unlike
// [Instance] it needs no testing.TB, so e2e programs can use it too.
// Its methods are safe for concurrent use.
type Process struct {
	bin        string
	dir        string
	ownDir     bool // Launch made dir: Close removes it
	port       int
	persistent bool

	mu  sync.Mutex
	run *run // nil while stopped
}

// errNoSignal is wrapped by Pause and Resume on systems without
// SIGSTOP/SIGCONT.
var errNoSignal = errors.New("needs SIGSTOP/SIGCONT")

// Launch starts a redis-server and waits until it answers PING. The caller
// ends it with Close. Errors start with "redistest: "; without redis-server
// on PATH the error wraps [exec.ErrNotFound].
func Launch(opts LaunchOptions) (*Process, error) {
	p := &Process{bin: opts.Bin, dir: opts.Dir, port: opts.Port, persistent: opts.Persistent}
	if p.bin == "" {
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			return nil, fmt.Errorf("redistest: %w", err)
		}
		p.bin = bin
	}
	if p.dir == "" {
		dir, err := os.MkdirTemp("", "redistest-")
		if err != nil {
			return nil, fmt.Errorf("redistest: %w", err)
		}
		p.dir, p.ownDir = dir, true
	}
	tries := 1
	if opts.Port == 0 {
		tries = 3 // a free port can be taken between probing and binding
	}
	var err error
	for range tries {
		if opts.Port == 0 {
			if p.port, err = freePort(); err != nil {
				break
			}
		}
		if err = p.start(); err == nil {
			return p, nil
		}
	}
	p.Close()
	return nil, fmt.Errorf("redistest: %w", err)
}

// Addr is the server's host:port.
func (p *Process) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// URL is redis://127.0.0.1:<port>/0.
func (p *Process) URL() string { return "redis://" + p.Addr() + "/0" }

// Kill ends the server with SIGKILL, as a crash would, which also ends a
// paused one. Its data is lost unless it is persistent. Killing a stopped
// server does nothing; Restart starts it again.
func (p *Process) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.run != nil {
		p.run.kill()
		p.run = nil
	}
}

// Close kills the server for good and removes the directory Launch made.
func (p *Process) Close() {
	p.Kill()
	if p.ownDir {
		_ = os.RemoveAll(p.dir)
	}
}

// Restart kills the server if it runs and starts it again on the same
// port: empty, or with its data when persistent. It tries for five
// seconds.
func (p *Process) Restart() error {
	p.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := p.start()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: restart: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pause freezes the server with SIGSTOP: it keeps its connections and
// port but answers nothing, like a hung host. Resume undoes it. On systems
// without SIGSTOP it returns an error.
func (p *Process) Pause() error { return p.signal("pause", sigStop) }

// Resume continues a paused server.
func (p *Process) Resume() error { return p.signal("resume", sigCont) }

func (p *Process) signal(op string, sig os.Signal) error {
	if sig == nil {
		return fmt.Errorf("redistest: %s %w", op, errNoSignal)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.run == nil {
		return fmt.Errorf("redistest: %s: server not running", op)
	}
	if err := p.run.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("redistest: %s: %w", op, err)
	}
	return nil
}

// start runs redis-server on p.port and waits up to five seconds for its
// PING; a server still loading its append-only file answers -LOADING and
// is waited for.
func (p *Process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	logPath := filepath.Join(p.dir, "redis.log")
	_ = os.Remove(logPath) // the error below shows this run's log only
	appendOnly := []string{"--appendonly", "no"}
	if p.persistent {
		appendOnly = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	args := append([]string{
		"--port", strconv.Itoa(p.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--daemonize", "no",
		"--dir", p.dir,
		"--logfile", logPath,
	}, appendOnly...)
	cmd := exec.Command(p.bin, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	r := &run{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := ping(p.Addr())
		if err == nil {
			p.run = r
			return nil
		}
		select {
		case <-r.done:
		default:
			if time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			r.kill()
		}
		log, _ := os.ReadFile(logPath)
		return fmt.Errorf("redis-server on port %d did not answer PING (%v); log:\n%s", p.port, err, log)
	}
}

// run is one run of redis-server; done closes when it has exited.
type run struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (r *run) kill() {
	_ = r.cmd.Process.Kill() // SIGKILL also ends a paused server
	<-r.done
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

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
