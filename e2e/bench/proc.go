package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
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
