package web

import "testing"

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
