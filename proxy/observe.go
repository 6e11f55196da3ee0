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
}

func (o *observedWriter) WriteHeader(code int) {
	// 1xx other than 101 are interim (ReverseProxy forwards 103 Early
	// Hints); the final status comes later.
	if o.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
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
