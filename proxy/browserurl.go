package proxy

import (
	"net/url"
	"strconv"
	"strings"
)

// This file reads URLs in answers the way a browser will (the WHATWG URL
// Standard), not the way net/url does, so that no spelling of the
// upstream's address slips past the mapping: browsers drop tabs and
// newlines, read "\" as "/" in http(s) URLs, take any number of slashes
// (even none) after "http:" as the start of the host, read "127.1",
// "0x7f000001" and "2130706433" as 127.0.0.1, and ignore a host's final
// dot and a port's leading zeros.

// browserURL parses raw as a browser would read it in a Location or Link
// of an http(s) page; false when it would not be a valid URL there.
func browserURL(raw string) (*url.URL, bool) {
	s := strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, raw)
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	special := true
	if scheme, rest, ok := cutScheme(s); ok {
		switch strings.ToLower(scheme) {
		case "http", "https":
			rest = strings.ReplaceAll(rest, `\`, "/")
			s = strings.ToLower(scheme) + "://" + strings.TrimLeft(rest, "/")
		default:
			special = false
		}
	} else {
		s = strings.ReplaceAll(s, `\`, "/")
		if strings.HasPrefix(s, "//") {
			s = "//" + strings.TrimLeft(s, "/")
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, false
	}
	if special && u.Host != "" {
		host := canonicalHost(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if p := u.Port(); p != "" {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil {
				return nil, false
			}
			host += ":" + strconv.FormatUint(n, 10)
		}
		u.Host = host
	}
	return u, true
}

// cutScheme splits "scheme:rest" when s starts with a URL scheme.
func cutScheme(s string) (scheme, rest string, ok bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return s[:i], s[i+1:], true
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// canonicalHost lowers host, drops its final dot and writes an IPv4
// address in any of the WHATWG spellings (1 to 4 parts, each decimal, octal
// with a leading 0, or hex with 0x) as a dotted quad.
func canonicalHost(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return host
	}
	var nums []uint64
	for _, p := range parts {
		n, ok := ipv4Part(p)
		if !ok {
			return host
		}
		nums = append(nums, n)
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return host
	}
	v := last
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return host
		}
		v += n << (8 * (3 - i))
	}
	return strconv.Itoa(int(v>>24)) + "." + strconv.Itoa(int(v>>16&255)) + "." +
		strconv.Itoa(int(v>>8&255)) + "." + strconv.Itoa(int(v&255))
}

func ipv4Part(p string) (uint64, bool) {
	base := 10
	switch {
	case p == "":
		return 0, false
	case strings.HasPrefix(p, "0x"):
		p, base = p[2:], 16
		if p == "" {
			return 0, true
		}
	case len(p) > 1 && p[0] == '0':
		p, base = p[1:], 8
	}
	n, err := strconv.ParseUint(p, base, 32)
	return n, err == nil
}
