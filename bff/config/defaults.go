package config

import (
	"slices"
	"time"
)

// This file holds Config.SetDefaults: every field's documented default.

// SetDefaults fills every unset field with its documented default. It is
// idempotent and never shares slices with the Config it was copied from.
func (c *Config) SetDefaults() {
	setString := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	setDuration := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setString(&c.Listen, "127.0.0.1:8080")
	c.applyProvider()

	o := &c.OIDC
	switch {
	case len(o.Scopes) == 0:
		o.Scopes = []string{"openid", "profile", "email", "offline_access"}
	case !slices.Contains(o.Scopes, "openid"):
		o.Scopes = append([]string{"openid"}, o.Scopes...)
	}
	// client_auth and its older spelling mean the same: each fills the
	// other (Validate reports them set to different methods).
	setString(&o.ClientAuth, o.TokenEndpointAuthMethod)
	setString(&o.ClientAuth, "client_secret_basic")
	setString(&o.TokenEndpointAuthMethod, o.ClientAuth)
	if o.Profile == "fapi2" {
		setString(&o.PAR, "require")
		setString(&o.DPoP, "require")
	}
	setString(&o.PAR, "auto")
	setString(&o.DPoP, "off")
	setString(&o.PostLogoutRedirectURL, "/")
	setDuration(&o.RefreshSkew, 60*time.Second)
	setDuration(&o.Timeout, 10*time.Second)

	s := &c.Session
	setString(&s.Store, "bolt")
	setString(&s.Path, "bff-sessions.db")
	setString(&s.RedisPrefix, "bff:")
	setDuration(&s.RedisTimeout, 500*time.Millisecond)
	setString(&s.RedisNearCache, "on")
	setString(&s.PostgresMigrate, "auto")
	setDuration(&s.IdleTimeout, 2*time.Hour)
	setDuration(&s.Lifetime, 24*time.Hour)
	if s.IdleTimeout > 0 {
		setDuration(&s.ExpiryWarning, min(2*time.Minute, s.IdleTimeout/2))
	}
	setString(&s.SameSite, "strict")

	c.APIs = slices.Clone(c.APIs)
	for i := range c.APIs {
		a := &c.APIs[i]
		setString(&a.Token, "user")
		setString(&a.Exchange, "refresh")
		setDuration(&a.Timeout, 30*time.Second)
	}

	setString(&c.Log.Format, "json")
	setString(&c.Log.Level, "info")

	setDuration(&c.Server.ReadHeaderTimeout, 10*time.Second)
	setDuration(&c.Server.IdleTimeout, 120*time.Second)
	setInt(&c.Server.MaxHeaderBytes, 64<<10)
	setDuration(&c.Server.ShutdownTimeout, 20*time.Second)
	setInt(&c.Server.MaxEventStreams, 10000)
	setInt(&c.Server.MaxEventStreamsPerSession, 16)
	setInt(&c.Server.MaxEventStreamsPerUser, 64)

	setInt(&c.RateLimit.LoginPerMinute, 600)
	setInt(&c.RateLimit.Burst, 600)
}
