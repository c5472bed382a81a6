package metrics

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The states of the scheduler loop that /healthz reports.
const (
	stateStarting = "starting" // the loop has not yet chosen its first time
	stateWaiting  = "waiting"  // waiting for the next scheduled time
	stateRunning  = "running"  // a run is going
	stateStopped  = "stopped"  // the loop has ended (a signal, or --max-runs)
)

// health is the body of /healthz.
type health struct {
	// Status is ok while the scheduler loop is alive; late when a scheduled run has not started long after
	// its time; stopped once the loop has ended.
	Status       string     `json:"status"`
	State        string     `json:"state"`
	StartedAt    time.Time  `json:"started_at"`
	NextRun      *time.Time `json:"next_run,omitempty"`
	RunningSince *time.Time `json:"running_since,omitempty"`
	Runs         int        `json:"runs"`
	LastRun      *runState  `json:"last_run,omitempty"`
	LastSuccess  *time.Time `json:"last_success,omitempty"`
	Message      string     `json:"message,omitempty"`
}

type runState struct {
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	ExitCode  int       `json:"exit_code"`
	Success   bool      `json:"success"`
}

// Health is what /healthz answers now, and its HTTP status: 200 while the scheduler loop is alive, 503 when
// it has stopped or is late, LateAfter past a scheduled time (plus the jitter) without starting the run.
func (m *Metrics) Health() (int, health) {
	m.mu.Lock()
	h := m.state
	m.mu.Unlock()
	switch {
	case h.State == stateStopped:
		h.Message = "the scheduler loop has ended"
		return http.StatusServiceUnavailable, h
	case h.State == stateWaiting && h.NextRun != nil:
		if late := m.opts.Now().Sub(*h.NextRun) - m.opts.Jitter; late > LateAfter {
			h.Status = "late"
			h.Message = fmt.Sprintf("the run scheduled for %s has not started %s after its time (and its jitter): the scheduler loop is stuck",
				h.NextRun.Format(time.RFC3339), late.Round(time.Second))
			return http.StatusServiceUnavailable, h
		}
	}
	return http.StatusOK, h
}

func (m *Metrics) serveHealth(w http.ResponseWriter, _ *http.Request) {
	code, h := m.Health()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(h)
}
