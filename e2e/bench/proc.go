package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// child is a running "-serve" child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addrs map[string]string
	done  chan struct{}
}

// startChild re-executes this program with -serve mode, passes files as
// fd 3, 4, ..., writes cfg (if not nil) to its stdin as JSON and waits up
// to a minute for its line of addresses.
func startChild(mode string, cfg any, files []*os.File) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, "-serve", mode)
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = files
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s child: %w", mode, err)
	}
	c := &child{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	if cfg != nil {
		if err := json.NewEncoder(stdin).Encode(cfg); err != nil {
			c.stop()
			return nil, fmt.Errorf("%s child config: %w", mode, err)
		}
	}
	select {
	case line, ok := <-lines:
		if ok && json.Unmarshal([]byte(line), &c.addrs) == nil {
			return c, nil
		}
		c.stop()
		return nil, fmt.Errorf("%s child did not start (output %q)", mode, line)
	case <-time.After(time.Minute):
		c.stop()
		return nil, fmt.Errorf("%s child: no addresses after a minute", mode)
	}
}

// stop closes the child's stdin, which ends it, and kills it if it is
// still running after five seconds.
func (c *child) stop() {
	_ = c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// reservedListener is a loopback listener the parent opens and hands to a
// child, so its address is known before the child starts (the provider
// must know the BFF's redirect URI) and stays the same across children.
type reservedListener struct {
	l    *net.TCPListener
	file *os.File
}

func reserveListener() (*reservedListener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tl := l.(*net.TCPListener)
	f, err := tl.File()
	if err != nil {
		l.Close()
		return nil, err
	}
	return &reservedListener{l: tl, file: f}, nil
}

func (r *reservedListener) addr() string { return r.l.Addr().String() }

func (r *reservedListener) close() {
	r.file.Close()
	r.l.Close()
}

// redisServer is a private redis-server without persistence, started like
// session/redistest starts one.
type redisServer struct {
	url  string
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

func startRedis() (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errNoRedis
	}
	dir, err := os.MkdirTemp("", "bff-bench-redis-")
	if err != nil {
		return nil, err
	}
	var last error
	for range 3 { // a free port can be taken between probing and binding
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		rs, err := startRedisOn(bin, dir, port)
		if err == nil {
			return rs, nil
		}
		last = err
	}
	os.RemoveAll(dir)
	return nil, last
}

func startRedisOn(bin, dir string, port int) (*redisServer, error) {
	logPath := filepath.Join(dir, "redis.log")
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir, "--logfile", logPath)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	rs := &redisServer{url: fmt.Sprintf("redis://127.0.0.1:%d/0", port), cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(rs.done)
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(5 * time.Second); ; {
		err := redisPing(addr)
		if err == nil {
			return rs, nil
		}
		select {
		case <-rs.done:
		default:
			if time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			_ = cmd.Process.Kill()
			<-rs.done
		}
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("redis-server on port %d did not answer PING (%v): %s", port, err, log)
	}
}

func (rs *redisServer) stop() {
	_ = rs.cmd.Process.Kill()
	<-rs.done
	os.RemoveAll(rs.dir)
}

func redisPing(addr string) error {
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
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
