//go:build !unix

package redistest

import "os"

// No SIGSTOP here: Pause and Resume skip.
var sigStop, sigCont os.Signal
