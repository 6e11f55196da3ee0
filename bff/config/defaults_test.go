package config

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestSetDefaults(t *testing.T) {
	var c Config
	c.APIs = []APIConfig{{Prefix: "/a/"}}
	c.SetDefaults()
	want := Config{
		Listen: "127.0.0.1:8080",
		OIDC: OIDCConfig{
			Provider:                "generic",
			Scopes:                  []string{"openid", "profile", "email", "offline_access"},
			ClientAuth:              "client_secret_basic",
			TokenEndpointAuthMethod: "client_secret_basic",
			PAR:                     "auto",
			DPoP:                    "off",
			PostLogoutRedirectURL:   "/",
			RefreshSkew:             60 * time.Second,
			Timeout:                 10 * time.Second,
		},
		Session: SessionConfig{
			Store: "bolt", Path: "bff-sessions.db", RedisPrefix: "bff:", RedisTimeout: 500 * time.Millisecond,
			RedisNearCache: "on", PostgresMigrate: "auto",
			IdleTimeout: 2 * time.Hour, Lifetime: 24 * time.Hour, ExpiryWarning: 2 * time.Minute, SameSite: "strict",
		},
		APIs: []APIConfig{{Prefix: "/a/", Token: "user", Exchange: "refresh", Timeout: 30 * time.Second}},
		Log:  LogConfig{Format: "json", Level: "info"},
		Server: ServerConfig{
			ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
			MaxHeaderBytes: 64 << 10, ShutdownTimeout: 20 * time.Second,
			MaxEventStreams: 10000, MaxEventStreamsPerSession: 16, MaxEventStreamsPerUser: 64,
		},
		RateLimit: RateLimitConfig{LoginPerMinute: 600, Burst: 600},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("SetDefaults() = %+v\nwant %+v", c, want)
	}
	again := c
	again.SetDefaults()
	if !reflect.DeepEqual(again, want) {
		t.Errorf("SetDefaults() twice = %+v, want %+v", again, want)
	}

	t.Run("openid added", func(t *testing.T) {
		c := Config{OIDC: OIDCConfig{Scopes: []string{"profile"}}}
		c.SetDefaults()
		if got, want := c.OIDC.Scopes, []string{"openid", "profile"}; !slices.Equal(got, want) {
			t.Errorf("Scopes = %q, want %q", got, want)
		}
	})
	t.Run("set values kept", func(t *testing.T) {
		c := Config{Listen: ":1", RateLimit: RateLimitConfig{LoginPerMinute: -1}, Session: SessionConfig{SameSite: "lax"}}
		c.SetDefaults()
		if c.Listen != ":1" || c.RateLimit.LoginPerMinute != -1 || c.Session.SameSite != "lax" {
			t.Errorf("SetDefaults() changed set values: %+v", c)
		}
	})
	t.Run("expiry warning at most half the idle timeout", func(t *testing.T) {
		c := Config{Session: SessionConfig{IdleTimeout: time.Minute}}
		c.SetDefaults()
		if got, want := c.Session.ExpiryWarning, 30*time.Second; got != want {
			t.Errorf("ExpiryWarning with idle_timeout 1m = %v, want %v", got, want)
		}
		if err := (Config{}).Validate(); err != nil && hasProblem(t, err, "session.expiry_warning", "") {
			t.Errorf("Validate() of defaults complains about session.expiry_warning: %v", err)
		}
	})
	t.Run("does not modify a copy's source", func(t *testing.T) {
		orig := Config{APIs: []APIConfig{{Prefix: "/a/"}}}
		cp := orig
		cp.SetDefaults()
		if orig.APIs[0].Token != "" {
			t.Errorf("SetDefaults on a copy changed the original's APIs: %+v", orig.APIs[0])
		}
	})
}
