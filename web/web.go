package web

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// indexName is the SPA's entry page, served for "/", for directory paths
// and for every extension-less path that matches no file.
const indexName = "index.html"

//go:embed app
var embedded embed.FS

// Config configures the static-file handler.
type Config struct {
	// Dir serves the SPA from this directory, which must exist and hold an
	// index.html. Default "": the embedded demo SPA (web/app/).
	//
	// The directory is opened once, with [os.OpenRoot]: files inside it may
	// change at any time and are picked up, but replacing the directory
	// itself (say, by re-pointing a symlink to a new release) needs a new
	// handler. Symbolic links are followed only while they stay inside Dir.
	Dir string
	// ContentSecurityPolicy replaces [DefaultCSP] on every response.
	// Default "": [DefaultCSP].
	ContentSecurityPolicy string
	// Logger receives unexpected file-system errors. If nil, slog.Default()
	// is used.
	Logger *slog.Logger
}

// handler is the http.Handler that New returns.
type handler struct {
	fsys  fs.FS
	csp   string
	log   *slog.Logger
	etags etagCache
}

// New returns the static-file handler for cfg. It reports every problem
// with cfg at once: a Dir that is missing, not a directory or has no
// index.html, and a ContentSecurityPolicy that cannot be a header value.
//
// The handler answers GET and HEAD (anything else is 405) and:
//
//   - serves the file the path names, with a strong ETag (a hash of the
//     content, computed once per version of the file), conditional requests
//     (304) and Range requests, through [http.ServeContent];
//   - serves index.html for "/", for any path ending in "/" and for any path
//     with no file extension that matches no file (client-side routes), and
//     404 for a missing path with an extension (a missing asset); it never
//     lists a directory;
//   - serves "x.js.br" or "x.js.gz" in place of "x.js" when they exist and
//     Accept-Encoding allows (Brotli on a tie; q=0 respected), with
//     Content-Encoding, the original's Content-Type, its own ETag and
//     "Vary: Accept-Encoding";
//   - sets Cache-Control "no-cache" on index.html and ordinary assets and
//     "public, max-age=31536000, immutable" on fingerprinted ones
//     ("name.<8+ hex digits>.ext");
//   - refuses (404) any path that could leave Dir or names a dotfile; see
//     [resolvePath];
//   - sets [SetSecurityHeaders] headers on every response, errors included.
//
// The handler is safe for concurrent use.
func New(cfg Config) (http.Handler, error) {
	h := &handler{csp: cfg.ContentSecurityPolicy, log: cfg.Logger}
	if h.csp == "" {
		h.csp = DefaultCSP
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	var errs []error
	if strings.ContainsFunc(h.csp, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		errs = append(errs, errors.New("web: content security policy contains a control character"))
	}
	if cfg.Dir == "" {
		sub, err := fs.Sub(embedded, "app")
		if err != nil {
			panic("web: embedded app missing: " + err.Error()) // miswired build
		}
		h.fsys = sub
	} else if fsys, err := openDir(cfg.Dir); err != nil {
		errs = append(errs, err)
	} else {
		h.fsys = fsys
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return h, nil
}

// openDir opens dir as a root the handler cannot escape and checks that it
// holds an index.html.
func openDir(dir string) (fs.FS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("web: dir %q: %w", dir, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("web: dir %q: %w", dir, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("web: dir %q is not a directory", dir)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("web: dir %q: %w", dir, err)
	}
	fsys := root.FS()
	info, err = fs.Stat(fsys, indexName)
	if err != nil || !info.Mode().IsRegular() {
		root.Close()
		return nil, fmt.Errorf("web: dir %q has no %s", dir, indexName)
	}
	return fsys, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	SetSecurityHeaders(w.Header(), h.csp)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, dir, ok := resolvePath(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if dir {
		h.serveIndex(w, r)
		return
	}
	f, info, err := h.open(name)
	switch {
	case err != nil:
		// ENOTDIR: a path under a file (/index.html/x), as harmless as a
		// missing one, and anyone can send it.
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			// Permission problems, symlinks leaving Dir and the like: the
			// client sees "not found", the log sees why.
			h.log.Warn("web: open", "path", name, "err", err)
		}
		if hasExt(name) {
			http.NotFound(w, r)
		} else {
			h.serveIndex(w, r)
		}
	case info.IsDir():
		h.serveIndex(w, r)
	case !info.Mode().IsRegular():
		http.NotFound(w, r)
	default:
		defer f.Close()
		h.serveFile(w, r, name, f, info)
	}
}

// serveIndex answers with index.html, for the SPA to route client-side,
// unless the request is a script's call for data (see wantsData): a
// client-side route is a page, and a 200 HTML page would be taken for an
// API's answer to a path no route serves.
func (h *handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" && wantsData(r) {
		writeNotFoundJSON(w)
		return
	}
	f, info, err := h.open(indexName)
	if err != nil || !info.Mode().IsRegular() {
		if err == nil {
			f.Close()
		}
		h.log.Error("web: cannot open index.html", "err", err)
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	h.serveFile(w, r, indexName, f, info)
}
