package audit

import (
	"io"
	"net/http"
	"time"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/collect"
)

// Deps are what the process gives a run; tests and the benchmark replace them.
type Deps struct {
	// Now is the clock of everything a run records (reports, history, waivers' expiry, the journal).
	Now func() time.Time
	// Getenv reads the environment (credentials named by the config, the AZURE_* variables).
	Getenv func(string) string
	// HTTP, when set, is the client of every API call (tests inject one that trusts the emulator's CA);
	// otherwise a client that verifies TLS against the system roots is built (see Client).
	HTTP *http.Client
	// Stderr receives the notes a run writes (the journal's path, long waits, history and notifications);
	// nil discards them.
	Stderr io.Writer
	// Quiet drops the notes that only inform (not warnings or failures).
	Quiet bool
	// Debug logs every HTTP request (method, redacted URL, status, time) to Stderr.
	Debug bool
	// Interactive says that an administrator is at a terminal (standard input and standard error), as
	// device-code sign-in needs.
	Interactive bool
	// Progress, when set, is told of every environment collected by Scan and Collect.
	Progress Progress
	// ToolVersion is what reports, snapshots and journals record as the version of audit.
	ToolVersion string
	// Observer, when set, is told of every request to Entra, BAP and Dataverse and of every retry (the
	// scheduler's metrics count them).
	Observer api.Observer
}

// Progress follows a collection: Event for each environment started and finished, Finish at the end.
type Progress interface {
	Event(collect.Event)
	Finish()
}

func (d Deps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

func (d Deps) stderr() io.Writer {
	if d.Stderr == nil {
		return io.Discard
	}
	return d.Stderr
}
