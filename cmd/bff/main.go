// Command bff runs the backend-for-frontend session server.
//
// Usage:
//
//	bff [-config FILE]        run (also: bff run -config FILE)
//	bff check -config FILE    validate the config and the provider's discovery; exit 0 or 1
//	bff check -probe -config FILE   also probe the live provider and upstreams; exit 0 or 1
//	bff migrate -config FILE  create or migrate the session store's schema (PostgreSQL); exit 0 or 1
//	bff keygen                print a new session encryption key
//	bff version               print the version
//
// The config file defaults to $BFF_CONFIG; BFF_* variables override its
// keys. A bad config stops start-up with every problem on stderr and exit
// code 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/bff-project/bff/bff"
	"github.com/bff-project/bff/bff/config"
	"github.com/bff-project/bff/bff/telemetry"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	// SIGHUP's default action ends the process: a closed terminal must not
	// take the server down. The server reloads its configuration on it
	// (runServer); other commands ignore it.
	signal.Ignore(syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command; ctx ends (SIGINT, SIGTERM) to shut down.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runServer(ctx, args, environ, stderr)
	case "check":
		return runCheck(ctx, args, environ, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args, environ, stdout, stderr)
	case "keygen":
		key, err := config.GenerateKey()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, key)
		return 0
	case "version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "bff: unknown command %q\n", cmd)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  bff [run] [-config FILE]   run the server (FILE defaults to $BFF_CONFIG)
  bff check [-probe] [-config FILE]
                             validate the config and fetch discovery; with -probe also check the
                             live provider (keys, client authentication, redirect URI, endpoints)
                             and each API's upstream; exit 0 or 1
  bff migrate [-config FILE] create or migrate the session store's schema; exit 0 or 1
  bff keygen                 print a new session encryption key
  bff version                print the version
`)
}

// configFlag parses "-config FILE", falling back to BFF_CONFIG.
func configFlag(name string, args, environ []string, stderr io.Writer) (string, bool) {
	fs := flag.NewFlagSet("bff "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML config `file` (default $BFF_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bff %s: unexpected argument %q\n", name, fs.Arg(0))
		return "", false
	}
	if *path == "" {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, "BFF_CONFIG="); ok {
				*path = v
			}
		}
	}
	return *path, true
}

func runServer(ctx context.Context, args, environ []string, stderr io.Writer) int {
	path, ok := configFlag("run", args, environ, stderr)
	if !ok {
		return 2
	}
	cfg, loadErr := config.Load(path, environ)
	if problems := config.Problems(loadErr, cfg.Validate()); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return 2
	}
	logger, err := bff.NewLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if unknown := config.UnknownEnv(environ); len(unknown) > 0 {
		logger.Warn("ignoring environment variables that name no config key (Kubernetes sets some for a Service named bff; check the others for typos)",
			"variables", strings.Join(unknown, ", "))
	}
	for _, w := range cfg.Audit() {
		logger.Warn(w)
	}
	// The server's own context outlives the shutdown signal, so background
	// work keeps running while requests drain; it ends after Close.
	srvCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	tracing, err := telemetry.Setup(srvCtx, versionString())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer scancel()
		if err := tracing.Shutdown(sctx); err != nil {
			logger.Warn("tracing: spans not flushed at exit", "err", err)
		}
	}()
	if tracing != nil {
		logger.Info("tracing on (OTEL_* environment)")
	}
	srv, err := bff.New(srvCtx, bff.Config{Config: cfg, Logger: logger, Version: versionString(), Tracing: tracing})
	if err != nil {
		fmt.Fprintln(stderr, err)
		if _, ok := errors.AsType[*config.Error](err); ok {
			return 2
		}
		return 1
	}
	// SIGHUP reloads the file (and BFF_* variables as they were at start:
	// a process cannot see its environment change).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := func() { reloadConfig(ctx, srv, path, environ, logger) }
	code := serve(ctx, cfg, logger, srv, hup, reload)
	if err := srv.Close(); err != nil {
		logger.Error("close", "err", err)
		code = 1
	}
	return code
}

// serve runs srv until ctx ends, then drains in-flight requests for
// cfg.Server.ShutdownTimeout. ReadTimeout and WriteTimeout stay unset so
// streams and WebSockets work; ReadHeaderTimeout bounds slow clients.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, srv *bff.Server, hup <-chan os.Signal, reload func()) int {
	errc := make(chan error, 2)
	servers := []*http.Server{}
	listen := func(addr string, h http.Handler, what string) bool {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			logger.Error("listen", "server", what, "err", err)
			return false
		}
		hs := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
			IdleTimeout:       cfg.Server.IdleTimeout,
			MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
		if what == "http" {
			// Event streams never go idle by themselves: end them when the
			// drain starts, not at its timeout.
			hs.RegisterOnShutdown(srv.Drain)
		}
		servers = append(servers, hs)
		logger.Info("listening", "server", what, "addr", ln.Addr().String())
		go func() { errc <- hs.Serve(ln) }()
		return true
	}
	ok := listen(cfg.Listen, srv.Handler(), "http")
	if ok && cfg.MetricsListen != "" {
		ok = listen(cfg.MetricsListen, srv.MetricsHandler(), "metrics")
	}
	code := 0
	if ok {
		logger.Info("bff started", "version", versionString(), "public_url", cfg.PublicURL)
	wait:
		for {
			select {
			case <-ctx.Done():
				logger.Info("shutting down", "timeout", cfg.Server.ShutdownTimeout.String())
				break wait
			case err := <-errc:
				logger.Error("serve", "err", err)
				code = 1
				break wait
			case <-hup:
				reload()
			}
		}
	} else {
		code = 1
	}
	shutdown(servers, cfg.Server.ShutdownTimeout, logger)
	return code
}

func shutdown(servers []*http.Server, timeout time.Duration, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(ctx); err != nil {
			logger.Warn("shutdown did not drain in time; closing connections", "err", err)
			hs.Close()
		}
	}
}

func runCheck(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	probe := false
	if i := slices.IndexFunc(args, func(a string) bool { return a == "-probe" || a == "--probe" }); i >= 0 {
		probe, args = true, slices.Delete(slices.Clone(args), i, i+1)
	}
	path, ok := configFlag("check", args, environ, stderr)
	if !ok {
		return 2
	}
	cfg, loadErr := config.Load(path, environ)
	checked, warnings := bff.Check(ctx, bff.Config{Config: cfg})
	problems := config.Problems(loadErr, errors.Join(checked...))
	for _, name := range config.UnknownEnv(environ) {
		warnings = append(warnings, name+" names no config key and is ignored (Kubernetes sets BFF_SERVICE_HOST, BFF_PORT and kin for a Service named bff; otherwise check it for a typo)")
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	if len(problems) > 0 {
		return 1
	}
	fmt.Fprintln(stdout, "config OK")
	if probe {
		return printProbe(stdout, bff.Probe(ctx, bff.Config{Config: cfg}))
	}
	return 0
}

// printProbe prints the probe's table and returns the exit code: 1 when
// any check failed.
func printProbe(w io.Writer, results []bff.ProbeResult) int {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL")
	code := 0
	for _, r := range results {
		result := "ok"
		switch {
		case !r.OK:
			result, code = "FAIL", 1
		case r.Warn:
			result = "warn"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Check, result, r.Detail)
	}
	tw.Flush()
	return code
}

// runMigrate is `bff migrate`: the schema step that start-up skips with
// session.postgres_migrate: off. A bad config is exit 2, a failed
// migration 1.
func runMigrate(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	path, ok := configFlag("migrate", args, environ, stderr)
	if !ok {
		return 2
	}
	cfg, loadErr := config.Load(path, environ)
	if problems := config.Problems(loadErr, cfg.Validate()); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return 2
	}
	did, err := bff.Migrate(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, did)
	return 0
}

// versionString is version plus, when the binary was built from a module
// version, that version.
func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" && bi.Main.Version != v {
		v += " (module " + bi.Main.Version + ")"
	}
	return v
}

// reloadConfig reads the configuration again and applies it (see
// bff.Server.Reload). A configuration with problems is refused, every
// problem logged, and the running one kept.
func reloadConfig(ctx context.Context, srv *bff.Server, path string, environ []string, logger *slog.Logger) {
	logger.Info("SIGHUP: reloading the configuration", "config", path)
	cfg, loadErr := config.Load(path, environ)
	problems := config.Problems(loadErr, cfg.Validate())
	if len(problems) == 0 {
		restart, err := srv.Reload(ctx, bff.Config{Config: cfg})
		if err == nil {
			if len(restart) > 0 {
				logger.Warn("reloaded, but these settings need a restart and keep their running values", "keys", strings.Join(restart, ", "))
			}
			return
		}
		problems = config.Problems(err)
	}
	for _, p := range problems {
		logger.Error("reload refused", "problem", p.Error())
	}
	logger.Error("reload refused: the running configuration is kept", "problems", len(problems))
}
