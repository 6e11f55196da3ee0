package oidcclient

import (
	"context"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Metadata is the part of a provider's discovery document (OpenID Connect
// Discovery 1.0 section 3, RFC 8414) that says what a client can rely on.
type Metadata struct {
	TokenAuthMethods     []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethods []string `json:"code_challenge_methods_supported"`
	GrantTypes           []string `json:"grant_types_supported"`
	EndSessionEndpoint   string   `json:"end_session_endpoint"`
	RevocationEndpoint   string   `json:"revocation_endpoint"`
	BackchannelLogout    bool     `json:"backchannel_logout_supported"`
}

// FetchMetadata fetches and checks issuer's discovery document (its issuer
// must be issuer), for configuration checks; it keeps nothing. client
// makes the request (a 10 s client when nil).
func FetchMetadata(ctx context.Context, issuer string, client *http.Client) (*Metadata, error) {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err != nil {
		return nil, err
	}
	var m Metadata
	if err := p.Claims(&m); err != nil {
		return nil, err
	}
	return &m, nil
}
