package config

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// This file checks single config values: addresses, URLs, prefixes, tokens, hosts.

func checkHostPort(s string) string {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return "must be host:port, such as 127.0.0.1:8080 or :8080"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "port must be a number from 0 to 65535"
	}
	return ""
}

func checkOrigin(s string) string {
	if s == "" {
		return "required"
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "must be an absolute http(s) origin such as https://app.example.com"
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "must be an origin only, without credentials, path, query or fragment"
	}
	return ""
}

func checkIssuer(s string) string {
	if s == "" {
		return "required"
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "must be an absolute https URL"
	}
	switch {
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		return "must use https (http only for a loopback host)"
	case u.Scheme != "https" && u.Scheme != "http":
		return "must be an absolute https URL"
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "must not contain credentials, a query or a fragment"
	}
	return ""
}

// checkRedirect allows a local path or an absolute http(s) URL.
func checkRedirect(s string) string {
	const msg = "must be a path such as / or an absolute http(s) URL"
	if strings.ContainsFunc(s, isControl) {
		return msg
	}
	if strings.HasPrefix(s, "/") {
		if strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
			return msg
		}
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return msg
	}
	return ""
}

func checkPrefix(p string) string {
	switch {
	case p == "":
		return "required"
	case !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/"):
		return `must start and end with "/", such as /api/orders/`
	case p == "/":
		return `must not be "/": it would hide the SPA`
	case strings.HasPrefix(p, "/bff/"):
		return "must not be under /bff/"
	case strings.ContainsFunc(p, func(r rune) bool { return isControl(r) || strings.ContainsRune(" ?#%\\{}", r) }),
		strings.Contains(p, "//"), strings.Contains(p, "/./"), strings.Contains(p, "/../"):
		return "must be a clean path without spaces, ?, #, %, {, } or dot segments"
	}
	return ""
}

func checkUpstream(s string) string {
	if s == "" {
		return "required"
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "must be an absolute http(s) URL with a host"
	}
	if u.User != nil {
		return "must not contain credentials"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "must not contain a query or fragment"
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// isScopeToken reports whether s is a scope-token (RFC 6749 section 3.3).
func isScopeToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x21 || r == '"' || r == '\\' || r > 0x7e
	})
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2).
func isToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r > 0x7e || r <= 0x20 || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	})
}

// isLoopbackHost reports whether host is localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// isPrivateHost reports whether host is loopback, a private or link-local
// address (RFC 1918, RFC 4193), a single-label name, or a name under .internal,
// .local, .localhost or .svc: hosts plain http does not cross the internet to.
func isPrivateHost(host string) bool {
	if isLoopbackHost(host) {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		return ip.IsPrivate() || ip.IsLinkLocalUnicast()
	}
	if !strings.Contains(host, ".") {
		return true
	}
	for _, suffix := range []string{".internal", ".local", ".svc"} {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}
