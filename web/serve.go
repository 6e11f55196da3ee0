package web

import (
	"bytes"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// open opens name and returns it with its FileInfo. Directories and other
// non-regular files are returned unopened (f is nil), so a FIFO is never
// opened and a directory never read.
func (h *handler) open(name string) (fs.File, fs.FileInfo, error) {
	info, err := fs.Stat(h.fsys, name)
	if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, info, nil
	}
	f, err := h.fsys.Open(name)
	if err != nil {
		return nil, nil, err
	}
	// Stat the open file too: it is what will be served.
	if info, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, info, nil
}

// serveFile serves the regular file f, named name, or its precompressed
// sibling when one exists and the client accepts it.
func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, name string, f fs.File, info fs.FileInfo) {
	ctype := contentType(name)
	var content fs.File = f
	var enc *encoding
	if ctype != "" {
		// Without a known type, the precompressed bytes would be sniffed;
		// such files are served as they are.
		var available []encoding
		for _, e := range encodings {
			if si, err := fs.Stat(h.fsys, name+e.suffix); err == nil && si.Mode().IsRegular() {
				available = append(available, e)
			}
		}
		if len(available) > 0 {
			w.Header().Add("Vary", "Accept-Encoding")
		}
		if enc = chooseEncoding(r.Header.Get("Accept-Encoding"), available); enc != nil {
			cf, cinfo, err := h.open(name + enc.suffix)
			if err == nil && cf != nil {
				defer cf.Close()
				content, info = cf, cinfo
			} else {
				enc = nil // gone since the Stat above: serve the original
			}
		}
	}
	rs, err := readSeeker(content)
	if err != nil {
		h.log.Warn("web: read", "path", name, "err", err)
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return
	}
	key := name
	if enc != nil {
		key += enc.suffix
	}
	tag, err := h.etags.get(key, info.ModTime(), info.Size(), rs)
	if err != nil {
		h.log.Warn("web: read", "path", key, "err", err)
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	if enc != nil {
		// Its own hash already differs from the original's; the suffix
		// keeps the tags apart even for a degenerate identical copy.
		tag = strings.TrimSuffix(tag, `"`) + "-" + enc.token + `"`
		hdr.Set("Content-Encoding", enc.token)
	}
	hdr.Set("ETag", tag)
	hdr.Set("Cache-Control", cacheControl(name))
	if ctype == "" {
		// Never sniffed: sniffing could serve a stray file as text/html
		// on the application's origin.
		ctype = "application/octet-stream"
	}
	hdr.Set("Content-Type", ctype)
	http.ServeContent(w, r, name, info.ModTime(), rs)
}

// readSeeker returns f as an io.ReadSeeker, reading it into memory only if
// it cannot seek (both *os.File and embed files can).
func readSeeker(f fs.File) (io.ReadSeeker, error) {
	if rs, ok := f.(io.ReadSeeker); ok {
		return rs, nil
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// webTypes are the Content-Types of the files a SPA is made of, fixed here
// so that the answer does not depend on the host's /etc/mime.types (which
// may say application/javascript, or nothing at all).
var webTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".htm":         "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".txt":         "text/plain; charset=utf-8",
	".xml":         "application/xml",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".gif":         "image/gif",
	".webp":        "image/webp",
	".avif":        "image/avif",
	".ico":         "image/x-icon",
	".woff":        "font/woff",
	".woff2":       "font/woff2",
	".ttf":         "font/ttf",
	".otf":         "font/otf",
	".wasm":        "application/wasm",
	".pdf":         "application/pdf",
}

// contentType is the Content-Type for name by its extension, or "" when
// unknown (served as application/octet-stream).
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := webTypes[ext]; ok {
		return t
	}
	return mime.TypeByExtension(ext)
}
