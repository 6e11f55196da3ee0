package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAcceptQ(t *testing.T) {
	tests := []struct {
		header string
		coding string
		want   float64
	}{
		{"", "br", 0},
		{"br", "br", 1},
		{"gzip, br", "br", 1},
		{"br;q=0.5", "br", 0.5},
		{"br; q=0", "br", 0},
		{"BR;Q=0.3", "br", 0.3},
		{"br;q=0, *", "br", 0},
		{"*;q=0.2", "gzip", 0.2},
		{"*, gzip;q=0", "gzip", 0},
		{"x-gzip", "gzip", 1},
		{"gzip;q=abc", "gzip", 0},
		{"gzip;q=2", "gzip", 0},
		{"gzip;q=-1", "gzip", 0},
		{"identity", "gzip", 0},
		{"brotli", "br", 0},
		{"gzip;level=9", "gzip", 1},
	}
	for _, tt := range tests {
		if got := acceptQ(tt.header, tt.coding); got != tt.want {
			t.Errorf("acceptQ(%q, %q) = %v, want %v", tt.header, tt.coding, got, tt.want)
		}
	}
}

func TestChooseEncoding(t *testing.T) {
	br, gz := encodings[0], encodings[1]
	tests := []struct {
		name      string
		header    string
		available []encoding
		want      string
	}{
		{name: "none available", header: "br, gzip", want: ""},
		{name: "no header", header: "", available: []encoding{br, gz}, want: ""},
		{name: "tie goes to br", header: "gzip, br", available: []encoding{br, gz}, want: "br"},
		{name: "br not available", header: "br, gzip", available: []encoding{gz}, want: "gzip"},
		{name: "br refused", header: "br;q=0, gzip", available: []encoding{br, gz}, want: "gzip"},
		{name: "only refused available", header: "br, gzip;q=0", available: []encoding{gz}, want: ""},
		{name: "q wins over preference", header: "br;q=0.1, gzip;q=0.8", available: []encoding{br, gz}, want: "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if e := chooseEncoding(tt.header, tt.available); e != nil {
				got = e.token
			}
			if got != tt.want {
				t.Errorf("chooseEncoding(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestPrecompressed(t *testing.T) {
	fx := newFixture(t)
	ts := server(t, Config{Dir: fx.dir})
	tests := []struct {
		name           string
		path           string
		acceptEncoding string
		wantEncoding   string // "" is identity
		wantVary       bool
	}{
		{name: "no header", path: "/app.js", wantEncoding: "", wantVary: true},
		{name: "gzip only", path: "/app.js", acceptEncoding: "gzip", wantEncoding: "gzip", wantVary: true},
		{name: "x-gzip", path: "/app.js", acceptEncoding: "x-gzip", wantEncoding: "gzip", wantVary: true},
		{name: "br only", path: "/app.js", acceptEncoding: "br", wantEncoding: "br", wantVary: true},
		{name: "br preferred on tie", path: "/app.js", acceptEncoding: "gzip, deflate, br, zstd", wantEncoding: "br", wantVary: true},
		{name: "case insensitive", path: "/app.js", acceptEncoding: "GZIP, BR", wantEncoding: "br", wantVary: true},
		{name: "br refused", path: "/app.js", acceptEncoding: "br;q=0, gzip", wantEncoding: "gzip", wantVary: true},
		{name: "br refused with spaces", path: "/app.js", acceptEncoding: "gzip, br ; q=0.000", wantEncoding: "gzip", wantVary: true},
		{name: "both refused", path: "/app.js", acceptEncoding: "br;q=0, gzip;q=0", wantEncoding: "", wantVary: true},
		{name: "higher q wins", path: "/app.js", acceptEncoding: "gzip;q=0.9, br;q=0.5", wantEncoding: "gzip", wantVary: true},
		{name: "wildcard", path: "/app.js", acceptEncoding: "*", wantEncoding: "br", wantVary: true},
		{name: "wildcard refused", path: "/app.js", acceptEncoding: "*;q=0", wantEncoding: "", wantVary: true},
		{name: "wildcard but br refused", path: "/app.js", acceptEncoding: "*, br;q=0", wantEncoding: "gzip", wantVary: true},
		{name: "identity only", path: "/app.js", acceptEncoding: "identity", wantEncoding: "", wantVary: true},
		{name: "only gz sibling", path: "/style.css", acceptEncoding: "br, gzip", wantEncoding: "gzip", wantVary: true},
		{name: "no siblings", path: "/assets/data.json", acceptEncoding: "br, gzip", wantEncoding: "", wantVary: false},
		{name: "unknown type served as is", path: "/unknown.zzz", acceptEncoding: "gzip", wantEncoding: "", wantVary: false},
	}
	tags := map[string]string{} // encoding → ETag for /app.js
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr map[string]string
			if tt.acceptEncoding != "" {
				hdr = map[string]string{"Accept-Encoding": tt.acceptEncoding}
			}
			res, body := do(t, ts, "GET", tt.path, hdr)
			if res.StatusCode != 200 {
				t.Fatalf("status = %d, want 200", res.StatusCode)
			}
			if got := res.Header.Get("Content-Encoding"); got != tt.wantEncoding {
				t.Errorf("Content-Encoding = %q, want %q", got, tt.wantEncoding)
			}
			if got := strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Accept-Encoding"); got != tt.wantVary {
				t.Errorf("Vary has Accept-Encoding = %v, want %v (Vary %q)", got, tt.wantVary, res.Header.Values("Vary"))
			}
			if tt.path != "/app.js" {
				return
			}
			if got, want := res.Header.Get("Content-Type"), "text/javascript; charset=utf-8"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			switch tt.wantEncoding {
			case "br":
				if body != brBody {
					t.Errorf("body = %q, want the .br file", body)
				}
			case "gzip":
				zr, err := gzip.NewReader(strings.NewReader(body))
				if err != nil {
					t.Fatalf("gzip body: %v", err)
				}
				plain, err := io.ReadAll(zr)
				if err != nil || string(plain) != appJS {
					t.Errorf("gunzipped body = %q, %v; want %q", plain, err, appJS)
				}
			default:
				if body != appJS {
					t.Errorf("body = %q, want %q", body, appJS)
				}
			}
			tag := res.Header.Get("ETag")
			if prev, ok := tags[tt.wantEncoding]; ok && prev != tag {
				t.Errorf("ETag for %q = %q, earlier %q; want stable", tt.wantEncoding, tag, prev)
			}
			tags[tt.wantEncoding] = tag
		})
	}
	if tags[""] == tags["br"] || tags[""] == tags["gzip"] || tags["br"] == tags["gzip"] {
		t.Errorf("ETags per encoding = %q, want all distinct", tags)
	}

	t.Run("304 for br variant", func(t *testing.T) {
		res, _ := do(t, ts, "GET", "/app.js", map[string]string{"Accept-Encoding": "br", "If-None-Match": tags["br"]})
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("status = %d, want 304", res.StatusCode)
		}
		res, _ = do(t, ts, "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": tags["br"]})
		if res.StatusCode != http.StatusOK {
			t.Errorf("gzip request with br tag: status = %d, want 200", res.StatusCode)
		}
	})
}
