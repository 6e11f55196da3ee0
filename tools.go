//go:build tools

package tools

import (
	_ "github.com/alexedwards/scs/boltstore"
	_ "github.com/alexedwards/scs/goredisstore"
	_ "github.com/alexedwards/scs/v2"
	_ "github.com/chromedp/chromedp"
	_ "github.com/coreos/go-oidc/v3/oidc"
	_ "github.com/gorilla/sessions"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/zitadel/oidc/v3/pkg/op"
	_ "github.com/zitadel/oidc/v3/pkg/oidc"
	_ "github.com/zitadel/oidc/v3/pkg/client/rp"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/oauth2"
	_ "golang.org/x/sync/singleflight"
	_ "gopkg.in/yaml.v3"
	_ "github.com/go-jose/go-jose/v4"
)
