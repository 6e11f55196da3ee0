package fapiop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Environment variable and install command.
const (
	// EnvRequire lists optional suites that must run; when it contains
	// "fapiop", a missing node or node modules fails the test instead of
	// skipping it.
	EnvRequire = "BFF_TEST_REQUIRE"
	// InstallCommand installs the pinned node modules; run it from the
	// repository root.
	InstallCommand = "npm ci --prefix e2e/fapiop/node"
)

// Required reports whether BFF_TEST_REQUIRE lists "fapiop".
func Required() bool {
	list := strings.Split(os.Getenv(EnvRequire), ",")
	for i := range list {
		list[i] = strings.ToLower(strings.TrimSpace(list[i]))
	}
	return slices.Contains(list, "fapiop")
}

// nodeDir is e2e/fapiop/node in the source tree, wherever the test runs.
func nodeDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "node")
}

// minNode is the oldest node that oidc-provider 9 runs on (it warns below
// 22, but works).
var minNode = [2]int{20, 19}

var nodeVersion = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("node", "--version").Output()
	return strings.TrimSpace(string(out)), err
})

// checkInstall returns the node binary, or why the provider cannot run.
func checkInstall(dir string) (node, why string) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", "node not on PATH (install Node.js 20.19 or later)"
	}
	v, err := nodeVersion()
	if err != nil {
		return "", fmt.Sprintf("node --version: %v", err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(v, "v%d.%d", &major, &minor); err != nil ||
		major < minNode[0] || (major == minNode[0] && minor < minNode[1]) {
		return "", fmt.Sprintf("node %s is older than %d.%d", v, minNode[0], minNode[1])
	}
	if why := checkModules(dir); why != "" {
		return "", fmt.Sprintf("node modules %s; run %q from the repository root", why, InstallCommand)
	}
	return node, ""
}

// checkModules compares each dependency pinned in package.json with the
// installed one, so that a stale node_modules is reported, not run.
func checkModules(dir string) string {
	var pkg struct{ Dependencies map[string]string }
	if err := readJSON(filepath.Join(dir, "package.json"), &pkg); err != nil {
		return err.Error()
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		return "missing (no node_modules)"
	}
	for _, name := range slices.Sorted(maps.Keys(pkg.Dependencies)) {
		want := pkg.Dependencies[name]
		var got struct{ Version string }
		err := readJSON(filepath.Join(dir, "node_modules", name, "package.json"), &got)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Sprintf("missing (%s not installed)", name)
		case err != nil:
			return err.Error()
		case got.Version != want:
			return fmt.Sprintf("stale (%s %s installed, %s pinned)", name, got.Version, want)
		}
	}
	return ""
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// process is one run of node/server.js.
type process struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	log   *logBuffer
}

// launch starts server.js with doc on stdin and waits for the issuer URL
// it prints. Stdin stays open: closing it ends the provider, so a test
// binary that dies takes its provider along.
func launch(node, dir string, doc []byte, env []string) (*process, string, error) {
	cmd := exec.Command(node, "server.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	p := &process{cmd: cmd, done: make(chan struct{}), log: &logBuffer{}}
	cmd.Stderr = p.log
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", fmt.Errorf("fapiop: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", fmt.Errorf("fapiop: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("fapiop: start node: %w", err)
	}
	p.stdin = stdin
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	if _, err := stdin.Write(append(doc, '\n')); err != nil {
		p.close()
		return nil, "", fmt.Errorf("fapiop: write configuration: %w", err)
	}
	first := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		first <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, r) // nothing more is printed; never block node
	}()
	select {
	case issuer := <-first:
		if strings.HasPrefix(issuer, "http") {
			return p, issuer, nil
		}
	case <-time.After(20 * time.Second):
	}
	p.close()
	return nil, "", fmt.Errorf("fapiop: provider did not start; its log:\n%s", p.log)
}

// close ends node by closing its stdin, and kills it after five seconds.
func (p *process) close() {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// logBuffer keeps the first MiB of node's stderr for failure messages.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := 1<<20 - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
