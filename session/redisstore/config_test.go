package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/session/redisstore"
	"github.com/bff-project/bff/session/redistest"
)

// TestRedisAddrsAndCredentials: Addrs replace the URL's host and Password
// overrides the URL's (wrong) one.
func TestAddrsAndCredentials(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	admin := redistest.Client(t, srv.URL)
	if err := admin.Do(ctx, admin.B().ConfigSet().ParameterValue().ParameterValue("requirepass", "s3cret").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	cfg := redisstore.Config{URL: "redis://:wrong@203.0.113.1:1/0", Addrs: []string{srv.Addr()}}
	r, err := redisstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Ping(ctx); err == nil {
		t.Error("Ping() with the URL's wrong password = nil, want an auth error")
	}
	r.Close()
	cfg.Password = "s3cret"
	if r, err = redisstore.Open(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Ping(ctx); err != nil {
		t.Errorf("Ping() with Password override = %v, want nil", err)
	}
}

func TestOpenConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     redisstore.Config
		wantErr string // substring; "" means success
		kind    string // "single", "failover", "cluster" on success
		addrs   []string
	}{
		{name: "empty", cfg: redisstore.Config{}, wantErr: "url (or addrs) is required"},
		{name: "no scheme", cfg: redisstore.Config{URL: "127.0.0.1:6379"}, wantErr: "url must start with"},
		{name: "http scheme", cfg: redisstore.Config{URL: "http://h:6379"}, wantErr: `url scheme "http"`},
		{name: "bad port", cfg: redisstore.Config{URL: "redis://u:s3cret@h:port/0"}, wantErr: "invalid port"},
		{name: "bad db", cfg: redisstore.Config{URL: "redis://:s3cret@h:6379/zero"}, wantErr: "invalid database number"},
		{name: "unknown option", cfg: redisstore.Config{URL: "redis://h/0?colour=red"}, wantErr: "unexpected option"},
		{name: "negative timeout", cfg: redisstore.Config{URL: "redis://h", Timeout: -time.Second}, wantErr: "timeout"},
		{name: "sentinel without master", cfg: redisstore.Config{URL: "redis-sentinel://h1,h2"}, wantErr: "master name"},
		{name: "sentinel bad port", cfg: redisstore.Config{URL: "redis-sentinel://:s3cret@h1:x,h2?master_name=m"}, wantErr: "invalid port"},
		{name: "sentinel bad db", cfg: redisstore.Config{URL: "redis-sentinel://h1/x?master_name=m"}, wantErr: "invalid database number"},
		{name: "sentinel unknown option", cfg: redisstore.Config{URL: "redis-sentinel://h1?master=m"}, wantErr: `unknown option "master"`},
		{name: "cluster with db", cfg: redisstore.Config{URL: "redis-cluster://h1,h2/3"}, wantErr: "no database numbers"},
		{name: "empty host in list", cfg: redisstore.Config{URL: "redis-cluster://h1,,h2"}, wantErr: "empty host"},
		{name: "bad addr", cfg: redisstore.Config{Addrs: []string{"h1"}}, wantErr: "not host:port"},

		{name: "single", cfg: redisstore.Config{URL: "redis://h:6380/2"}, kind: "single", addrs: []string{"h:6380"}},
		{name: "single TLS", cfg: redisstore.Config{URL: "rediss://h"}, kind: "single", addrs: []string{"h:6379"}},
		{name: "unix", cfg: redisstore.Config{URL: "unix:///run/redis.sock"}, kind: "single", addrs: []string{"/run/redis.sock"}},
		{name: "one addr", cfg: redisstore.Config{Addrs: []string{"h:1"}}, kind: "single", addrs: []string{"h:1"}},
		{name: "addrs make a cluster", cfg: redisstore.Config{Addrs: []string{"h1:1", "h2:2"}}, kind: "cluster", addrs: []string{"h1:1", "h2:2"}},
		{name: "cluster URL", cfg: redisstore.Config{URL: "rediss-cluster://:pw@h1,h2:7000"}, kind: "cluster", addrs: []string{"h1:6379", "h2:7000"}},
		{name: "cluster one seed", cfg: redisstore.Config{URL: "redis-cluster://h1"}, kind: "cluster", addrs: []string{"h1:6379"}},
		{name: "sentinel URL", cfg: redisstore.Config{URL: "redis-sentinel://u:pw@h1,[::1]:26380/1?master_name=m"}, kind: "failover"},
		{name: "sentinel by MasterName", cfg: redisstore.Config{Addrs: []string{"h1:26379", "h2:26379"}, MasterName: "m"}, kind: "failover"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r, err := redisstore.Open(context.Background(), tc.cfg); err == nil {
				r.Close()
			}
			opt, err := redisstore.ClientOptionFor(tc.cfg)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("Open() = nil error, want one containing %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Open() = %q, want it to contain %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("Open() error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open() = %v, want nil", err)
			}
			kind, addrs := "cluster", opt.InitAddress
			switch {
			case opt.Sentinel.MasterSet != "":
				kind, addrs = "failover", nil
			case opt.ForceSingleClient:
				kind = "single"
			}
			if opt.Dialer.Timeout != 500*time.Millisecond || opt.ConnWriteTimeout != 500*time.Millisecond {
				t.Errorf("timeouts = dial %v reply %v, want 500ms, 500ms", opt.Dialer.Timeout, opt.ConnWriteTimeout)
			}
			if kind != tc.kind {
				t.Errorf("client kind = %s, want %s", kind, tc.kind)
			}
			if tc.addrs != nil && strings.Join(addrs, ",") != strings.Join(tc.addrs, ",") {
				t.Errorf("addrs = %v, want %v", addrs, tc.addrs)
			}
		})
	}
}
