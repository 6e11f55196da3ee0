package browser

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDemoCommand runs the README's first command as a newcomer would
// (the built cmd/bff-demo, plain http on localhost) and signs in with the
// credentials it prints: the Secure __Host- cookies must work on
// http://localhost, and the sample API must answer through the BFF.
func TestDemoCommand(t *testing.T) {
	tab := newTab(t, "demo")
	bin := filepath.Join(t.TempDir(), "bff-demo")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/bff-demo")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build ./cmd/bff-demo: %v", err)
	}
	port, opPort := freePort(t), freePort(t)
	cmd := exec.Command(bin, "-port", fmt.Sprint(port), "-op-port", fmt.Sprint(opPort))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	banner := make(chan string, 1)
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Press Ctrl-C") {
				banner <- all.String()
			}
		}
	}()
	var text string
	select {
	case text = <-banner:
	case <-time.After(30 * time.Second):
		t.Fatal("bff-demo printed no banner in 30s")
	}
	app := fmt.Sprintf("http://localhost:%d", port)
	if !strings.Contains(text, app) || !strings.Contains(text, "alice / alice") {
		t.Fatalf("banner does not name %s and the demo user:\n%s", app, text)
	}

	tab.run("open the demo", chromedp.Navigate(app+"/"))
	tab.waitState(app, "signed-out", stepTimeout)
	tab.click("#sign-in")
	tab.waitFor("the provider's login form", `!!document.querySelector("#username")`, stepTimeout)
	tab.run("type the demo credentials",
		chromedp.SendKeys("#username", "alice", chromedp.ByQuery),
		chromedp.SendKeys("#password", "alice", chromedp.ByQuery))
	tab.click("#submit")
	tab.waitState(app, "signed-in", stepTimeout)
	if got := tab.text("#user-name"); !strings.Contains(got, "Alice") {
		t.Errorf("#user-name = %q, want it to name Alice", got)
	}
	var user struct {
		Sub string `json:"sub"`
	}
	if code := tab.fetchJSON("/bff/user", &user); code != 200 || user.Sub != "alice" {
		t.Errorf("/bff/user in the demo = %d %+v, want 200 alice", code, user)
	}
	var api struct {
		Audience []string `json:"audience"`
	}
	if code := tab.fetchJSON("/api/orders/whoami", &api); code != 200 || len(api.Audience) != 1 || api.Audience[0] != "orders-api" {
		t.Errorf("/api/orders/whoami in the demo = %d %+v, want 200 with audience orders-api", code, api)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
