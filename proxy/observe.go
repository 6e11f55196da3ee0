package proxy

import (
	"bufio"
	"net"
	"net/http"
)

// observedWriter records the status sent to the client for Config.Observe.
// Flush and Hijack stay reachable: it has both methods and an Unwrap for
// http.ResponseController.
type observedWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
	// in is the browser's request, for the error handler, which
	// ReverseProxy gives only the upstream one.
	in *http.Request
}

func (o *observedWriter) WriteHeader(code int) {
	// ReverseProxy passes on an upstream's interim 1xx answers (103 Early
	// Hints, 102) with all their header fields, before modifyResponse could
	// filter them. They are dropped: a script's API call has no use for
	// them, and their fields (a Set-Cookie among them) would reach the
	// browser unchecked. The final answer comes later.
	if code < 200 && code != http.StatusSwitchingProtocols {
		return
	}
	if o.status == 0 {
		o.status = code
	}
	o.ResponseWriter.WriteHeader(code)
}

func (o *observedWriter) Write(b []byte) (int, error) {
	if o.status == 0 {
		o.status = http.StatusOK
	}
	return o.ResponseWriter.Write(b)
}

// FlushError flushes through http.ResponseController, which finds it first.
func (o *observedWriter) FlushError() error {
	if o.status == 0 {
		o.status = http.StatusOK
	}
	return http.NewResponseController(o.ResponseWriter).Flush()
}

// Hijack is used by ReverseProxy for protocol switches, whose 101 it then
// writes to the raw connection.
func (o *observedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(o.ResponseWriter).Hijack()
	if err == nil {
		o.hijacked = true
		if o.status == 0 {
			o.status = http.StatusSwitchingProtocols
		}
	}
	return conn, brw, err
}

// Unwrap gives http.ResponseController the underlying writer.
func (o *observedWriter) Unwrap() http.ResponseWriter { return o.ResponseWriter }

// setStatus records a status without writing one (499).
func (o *observedWriter) setStatus(code int) {
	if o.status == 0 {
		o.status = code
	}
}

func (o *observedWriter) statusCode() int {
	if o.status == 0 {
		return http.StatusOK // the server sends 200 for a handler that wrote nothing
	}
	return o.status
}
