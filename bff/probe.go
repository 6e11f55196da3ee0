package bff

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bff-project/bff/bff/oidcclient"
)

// ProbeResult is one line of `bff check --probe`.
type ProbeResult struct {
	Check  string // what was checked, e.g. "client authentication"
	OK     bool
	Warn   bool   // OK, but worth a look
	Detail string // short; never a secret or a provider's description
}

// Probe checks cfg against the live provider and upstreams, as `bff check
// --probe` does: discovery, the JWKS, client authentication (a grant that
// tells invalid_client from invalid_grant), the redirect URI's
// registration where the provider can tell, revocation and end-session
// availability, and that each API route's upstream answers HTTP. It
// changes nothing anywhere and assumes cfg is valid (see [Check]).
func Probe(ctx context.Context, cfg Config) []ProbeResult {
	cfg.SetDefaults()
	var out []ProbeResult
	add := func(check string, err error, ok string) {
		r := ProbeResult{Check: check, OK: err == nil, Detail: ok}
		if err != nil {
			r.Detail = probeDetail(err)
		}
		out = append(out, r)
	}
	client, _, err := newProviderClient(cfg, cfg.PublicURL)
	if err != nil {
		add("provider client", err, "")
		return out
	}
	revocation, endSession, err := client.Endpoints(ctx)
	add("discovery", err, "loaded from "+cfg.OIDC.Issuer)
	if err == nil { // every other provider check needs discovery
		n, err := client.ProbeKeys(ctx)
		add("signing keys (JWKS)", err, fmt.Sprintf("%d signing key(s)", n))
		add("client authentication", client.ProbeClientAuth(ctx), cfg.OIDC.ClientAuth+" accepted")
		how, err := client.ProbeRedirectURI(ctx)
		add("redirect URI", err, how)
		out = append(out, advertised("revocation endpoint", revocation, "logout cannot revoke refresh tokens"),
			advertised("end-session endpoint", endSession, "logout ends the BFF session only"))
	}
	for i, a := range cfg.APIs {
		status, err := probeUpstream(ctx, a.Upstream)
		add(fmt.Sprintf("apis[%d] upstream %s", i, a.Prefix), err, fmt.Sprintf("answers (%d without a token)", status))
	}
	return out
}

func advertised(check string, ok bool, otherwise string) ProbeResult {
	if ok {
		return ProbeResult{Check: check, OK: true, Detail: "advertised"}
	}
	return ProbeResult{Check: check, OK: true, Warn: true, Detail: "not advertised: " + otherwise}
}

// probeDetail says what went wrong without the provider's own words.
func probeDetail(err error) string {
	switch {
	case errors.Is(err, oidcclient.ErrClientAuth), errors.Is(err, oidcclient.ErrRedirectRefused):
		return err.Error()[len("oidcclient: "):]
	case errors.Is(err, oidcclient.ErrUnavailable):
		return "provider unreachable or failing"
	}
	return err.Error()
}

// probeUpstream asks the upstream's base URL once, without credentials:
// any HTTP answer (a 401 or 404 included) shows it is reachable.
func probeUpstream(ctx context.Context, upstream string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, upstream, nil)
	if err != nil {
		return 0, err
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return 0, errors.New("unreachable")
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
