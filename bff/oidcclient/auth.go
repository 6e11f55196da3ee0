package oidcclient

import (
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"
)

// clientAuth is how the client proves who it is to the token and
// revocation endpoints (OpenID Connect Core 9). Each method is one
// implementation; every request to those endpoints goes through it.
type clientAuth interface {
	// style is how x/oauth2 sends the client's credentials.
	style() oauth2.AuthStyle
	// secret is the secret x/oauth2 sends; "" for methods without one.
	secret() string
	// params are extra form parameters for a request to endpoint, such as
	// a client assertion; nil for none.
	params(endpoint string) (url.Values, error)
}

func newClientAuth(cfg Config) (clientAuth, error) {
	switch cfg.AuthMethod {
	case "", AuthSecretBasic:
		return secretAuth{s: cfg.ClientSecret, in: oauth2.AuthStyleInHeader}, nil
	case AuthSecretPost:
		return secretAuth{s: cfg.ClientSecret, in: oauth2.AuthStyleInParams}, nil
	}
	return nil, fmt.Errorf("oidcclient: unknown client authentication method %q", cfg.AuthMethod)
}

// secretAuth is client_secret_basic or client_secret_post.
type secretAuth struct {
	s  string
	in oauth2.AuthStyle
}

func (a secretAuth) style() oauth2.AuthStyle         { return a.in }
func (a secretAuth) secret() string                  { return a.s }
func (secretAuth) params(string) (url.Values, error) { return nil, nil }

// authenticate adds the client's credentials to a request to endpoint
// made by hand (x/oauth2 makes the token requests).
func (c *Client) authenticate(req *http.Request, form url.Values, endpoint string) error {
	extra, err := c.auth.params(endpoint)
	if err != nil {
		return err
	}
	for k, v := range extra {
		form[k] = v
	}
	switch {
	case c.auth.style() == oauth2.AuthStyleInParams:
		form.Set("client_id", c.cfg.ClientID)
		if s := c.auth.secret(); s != "" {
			form.Set("client_secret", s)
		}
	case c.auth.secret() != "":
		// RFC 6749 2.3.1: form-encode the credentials before Basic.
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.auth.secret()))
	}
	return nil
}
