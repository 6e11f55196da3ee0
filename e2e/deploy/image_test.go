package deploy_test

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	dockerfile = "../../Dockerfile"
	repoRoot   = "../.." // the build context: the Dockerfile's `COPY . .` into its WORKDIR
	nonrootID  = 65532   // distroless "nonroot"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int    // first line, for messages
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// stage is one FROM and the instructions after it.
type stage struct {
	from, name string
	ins        []instruction
}

func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	var (
		stages  []stage
		cur     strings.Builder
		start   int
		pending bool
	)
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		pending = false
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			return
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("Dockerfile:%d: %s before FROM", in.line, in.cmd)
			}
			return
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && !pending) {
			continue // comments (also inside continuations) and blank lines
		}
		if !pending {
			start = n
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur.WriteString(body + " ")
			pending = true
			continue
		}
		cur.WriteString(line)
		flush()
	}
	if pending {
		t.Fatal("Dockerfile ends inside a continuation")
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(stages))
	}
	return stages
}

// buildCommand returns the build stage's `go build` command (the part of its
// RUN between &&s) and the path it writes the binary to.
func buildCommand(t *testing.T, stages []stage) (cmd, out string) {
	t.Helper()
	var found []string
	for _, s := range stages[:len(stages)-1] {
		for _, in := range s.ins {
			if in.cmd != "RUN" {
				continue
			}
			for part := range strings.SplitSeq(in.args, "&&") {
				if strings.Contains(part, "go build") {
					found = append(found, strings.TrimSpace(part))
				}
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("build stages have %d `go build` commands, want 1: %q", len(found), found)
	}
	cmd = found[0]
	for _, want := range []string{"CGO_ENABLED=0 ", "-trimpath", "main.version=${VERSION}", "./cmd/bff"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("build command %q lacks %q", cmd, want)
		}
	}
	m := regexp.MustCompile(`\s-o\s+(\S+)`).FindStringSubmatch(cmd)
	if m == nil {
		t.Fatalf("build command %q has no -o", cmd)
	}
	return cmd, m[1]
}

// TestDockerfileRuntimeStage checks the image's shape: distroless static
// nonroot, the unprivileged user, the binary from the build command as the
// exec-form entrypoint, no HEALTHCHECK.
func TestDockerfileRuntimeStage(t *testing.T) {
	stages := parseDockerfile(t)
	_, out := buildCommand(t, stages)
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") || !strings.HasSuffix(final.from, ":nonroot") {
		t.Errorf("runtime base = %s, want gcr.io/distroless/static…:nonroot", final.from)
	}
	var user, entrypoint, binary string
	for _, s := range stages {
		for _, in := range s.ins {
			if in.cmd == "HEALTHCHECK" {
				t.Errorf("Dockerfile:%d: HEALTHCHECK; orchestrators probe /healthz and /readyz over HTTP", in.line)
			}
		}
	}
	for _, in := range final.ins {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "COPY":
			f := strings.Fields(in.args)
			if len(f) >= 3 && strings.HasPrefix(f[0], "--from=") && f[len(f)-2] == out {
				binary = f[len(f)-1]
			}
		}
	}
	if user != fmt.Sprintf("%d:%d", nonrootID, nonrootID) {
		t.Errorf("USER = %q, want %d:%d", user, nonrootID, nonrootID)
	}
	if binary == "" {
		t.Fatalf("the runtime stage copies no %s (the build command's output)", out)
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || len(ep) != 1 || ep[0] != binary {
		t.Errorf("ENTRYPOINT %s, want the exec form [%q] (no shell in the image)", entrypoint, binary)
	}
}

// TestImageBinary runs the Dockerfile's build command, checks the binary is
// static, stripped and stamped, and starts it as the image's user in a
// read-only working directory.
func TestImageBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cmdline, out := buildCommand(t, parseDockerfile(t))

	root, err := os.MkdirTemp("", "bff-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bff")
	// The command exactly as the Dockerfile has it, but for where it writes.
	run := strings.Replace(cmdline, " -o "+out+" ", " -o '"+bin+"' ", 1)
	build := exec.Command("sh", "-c", run)
	build.Dir = repoRoot
	// The build context has no .git (.dockerignore), so no VCS stamp there.
	build.Env = append(os.Environ(), "VERSION=test-version", "GOFLAGS=-buildvcs=false")
	start := time.Now()
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("sh -c %q: %v\n%s", run, err, b)
	}
	t.Logf("built in %v: %s", time.Since(start).Round(time.Millisecond), run)

	t.Run("static", func(t *testing.T) { checkStatic(t, bin) })
	t.Run("version", func(t *testing.T) {
		got, err := exec.Command(bin, "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(got)); len(f) == 0 || f[0] != "test-version" {
			t.Errorf("bff version = %q, want test-version (ldflags -X main.version)", got)
		}
	})
	t.Run("unprivileged", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("starting the binary as uid 65532 needs root (to switch user); running as uid", os.Geteuid())
		}
		runUnprivileged(t, root, bin)
	})
}

func checkStatic(t *testing.T, bin string) {
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: the binary is dynamically linked", p.Type)
		}
	}
	for _, name := range []string{".interp", ".dynamic"} {
		if f.Section(name) != nil {
			t.Errorf("section %s: the binary is dynamically linked", name)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("imported libraries = %v, %v; want none", libs, err)
	}
	if f.Section(".symtab") != nil {
		t.Error("section .symtab: the binary is not stripped (-ldflags -s)")
	}
}

// runUnprivileged starts bin as uid/gid 65532 in a sandbox laid out like
// the container and checks it serves its probes and metrics and stops on
// SIGTERM with exit 0.
func runUnprivileged(t *testing.T, root, bin string) {
	sb := layOut(t, root)
	p := startAs(t, bin, sb, nonrootID)

	checkIdentity(t, p.cmd.Process.Pid)
	p.waitStatus(t, "http://"+sb.addr+"/healthz", http.StatusOK)
	p.waitStatus(t, "http://"+sb.addr+"/readyz", http.StatusOK)
	// The chart scrapes the metrics port; the public listener answers 404
	// for /metrics.
	if code, body := get(t, "http://"+sb.metricsAddr+"/metrics"); code != http.StatusOK || !strings.Contains(body, "bff_build_info") {
		t.Errorf("GET /metrics on metrics_listen = %d without bff_build_info, want 200 with the metrics", code)
	}
	if code, body := get(t, "http://"+sb.addr+"/metrics"); code != http.StatusNotFound || strings.Contains(body, "bff_build_info") {
		t.Errorf("GET /metrics on listen = %d, want 404: the metrics only on metrics_listen", code)
	}
	if fi, err := os.Stat(filepath.Join(sb.data, "bff-sessions.db")); err != nil {
		t.Errorf("bolt file in the data directory: %v", err)
	} else if st := fi.Sys().(*syscall.Stat_t); st.Uid != nonrootID {
		t.Errorf("bolt file owned by uid %d, want %d", st.Uid, nonrootID)
	}
	if entries, _ := os.ReadDir(sb.work); len(entries) > 0 {
		t.Errorf("the read-only working directory gained %d entries", len(entries))
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("exit after SIGTERM = %v, want 0; output:\n%s", p.err, p.out)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit 15s after SIGTERM; output:\n%s", p.out)
	}
}

// sandbox is the container's file system laid out under a temporary root:
// the config read-only, the secrets readable by the group only (a Secret
// volume with fsGroup 65532 and mode 0440), a data directory owned by the
// user (/var/lib/bff) and a read-only working directory.
type sandbox struct {
	cfg, data, work   string
	addr, metricsAddr string
}

func layOut(t *testing.T, root string) sandbox {
	t.Helper()
	mkdir := func(p string, mode os.FileMode, uid, gid int) string {
		t.Helper()
		if err := os.MkdirAll(p, 0o755); err != nil { // parents: traversable by the user
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write := func(p, content string, mode os.FileMode, gid int) string {
		t.Helper()
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 0, gid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secrets := mkdir(filepath.Join(root, "run", "secrets", "bff"), 0o755, 0, 0)
	etc := mkdir(filepath.Join(root, "etc", "bff"), 0o755, 0, 0)
	sb := sandbox{
		data:        mkdir(filepath.Join(root, "var", "lib", "bff"), 0o700, nonrootID, nonrootID),
		work:        mkdir(filepath.Join(root, "work"), 0o555, 0, 0),
		addr:        freeAddr(t),
		metricsAddr: freeAddr(t),
	}
	clientSecret := write(filepath.Join(secrets, "client-secret"), "image-test-secret\n", 0o440, nonrootID)
	keys := write(filepath.Join(secrets, "encryption-keys"), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))+"\n", 0o440, nonrootID)
	sb.cfg = write(filepath.Join(etc, "bff.yaml"), fmt.Sprintf(`listen: %q
metrics_listen: %q
public_url: "http://%s"
oidc:
  issuer: %q
  client_id: "bff"
  client_secret_file: %q
session:
  path: %q
  encryption_keys_file: %q
server:
  shutdown_timeout: "5s"
`, sb.addr, sb.metricsAddr, sb.addr, discoveryStub(t), clientSecret, filepath.Join(sb.data, "bff-sessions.db"), keys), 0o444, 0)
	return sb
}

// process is the running binary; done is closed when it has exited, err
// is then its exit error.
type process struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error
}

// startAs starts bin with the sandbox's config in its working directory, as
// uid and gid id with no supplementary groups and the image's environment.
func startAs(t *testing.T, bin string, sb sandbox, id uint32) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, "-config", sb.cfg), out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Dir = sb.work
	p.cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"} // nothing else: no BFF_* variable
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: id, Gid: id, Groups: []uint32{}}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill() // fails harmlessly once it has exited
		<-p.done
	})
	return p
}

// checkIdentity reads the process's credentials from /proc: uid and gid
// 65532, no supplementary groups, no effective capabilities.
func checkIdentity(t *testing.T, pid int) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat(fmt.Sprintf("\t%d", nonrootID), 4)
	want := map[string]string{"Uid:": "Uid:" + id, "Gid:": "Gid:" + id, "Groups:": "Groups:", "CapEff:": "CapEff:\t0000000000000000"}
	for line := range strings.Lines(string(status)) {
		line = strings.TrimRight(line, " \t\n")
		key, _, _ := strings.Cut(line, "\t")
		if w, ok := want[key]; ok {
			if line != w {
				t.Errorf("/proc/PID/status %q, want %q", line, w)
			}
			delete(want, key)
		}
	}
	if len(want) > 0 {
		t.Errorf("/proc/PID/status lacks %v", want)
	}
}

// discoveryStub serves an OpenID provider's discovery document, enough for
// the BFF to load it and turn ready. Nobody signs in.
func discoveryStub(t *testing.T) string {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                srv.URL,
			"authorization_endpoint":                srv.URL + "/authorize",
			"token_endpoint":                        srv.URL + "/token",
			"jwks_uri":                              srv.URL + "/jwks",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// waitStatus polls url until it answers want, for up to 10 s.
func (p *process) waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	c := http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("bff exited (%v) before %s answered %d; output:\n%s", p.err, url, want, p.out)
		default:
		}
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s: %s after 10s, want %d; output:\n%s", url, last, want, p.out)
}

// lockedBuffer is a bytes.Buffer safe to read while the process writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
