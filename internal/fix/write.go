package fix

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/work365/audit/internal/api"
)

// A write whose answer says it was refused (4xx) did not happen. One that got no HTTP status (a timeout, a
// reset connection, a cancelled run) or a server error (which a gateway may give after the organization acted)
// may have landed: it is journaled as unknown, and the state is read again to decide. If the write landed, the
// step is applied (and journaled so); if it did not, it is sent again — now safely, since it cannot land twice;
// if the state cannot be read either, the outcome stays unknown, and the next run and undo re-read it. A 429 is
// a refusal, but its write is also checked again after the wait before it is sent again.

// errUnknown is a write whose outcome could not be decided; the step is reported unknown, not failed.
type errUnknown struct{ err error }

func (e *errUnknown) Error() string {
	return e.err.Error() + " — the answer was lost, so the write may have landed: the next audit fix and --undo read the state again to decide"
}

func (e *errUnknown) Unwrap() error { return e.err }

// confirmed is the reason of a step whose write landed although its answer said otherwise or never came.
const confirmed = "the answer was lost or refused, but re-reading the state shows the write landed"

// errConfirmed reports, from write, that the state was found as the write wanted after its answer was lost.
var errConfirmed = errors.New(confirmed)

// lostAnswer tells a write that may have landed: sent without an HTTP status coming back, or a server error. A
// write that was never sent (no token, say) is a plain failure.
func lostAnswer(err error) bool {
	return api.IsTransport(err) || api.StatusOf(err) >= 500
}

// errJournal wraps a failure to journal: the write was not sent.
var errJournal = errors.New("journal")

// writeCall is one write: what it sends, what it journals, and how to tell from the state whether it landed.
type writeCall struct {
	method, path string
	body         any
	before       map[string]any // the state read just before
	after        map[string]any // the value the write sets, for undo to know it is still there
	// landed reads the state and reports whether it is what the write wants; nil when that cannot be read (the
	// write is then never sent twice).
	landed func(context.Context) (bool, error)
}

// write journals and sends one write under the protocol above.
func (r *envRun) write(ctx context.Context, st Step, w writeCall) (*api.Response, error) {
	j := r.a.opts.Journal
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		intent := Record{Tenant: r.ep.Tenant, EnvironmentID: r.ep.EnvironmentID, Environment: r.ep.Name, InstanceURL: r.ep.InstanceURL,
			Action: st.Action, Params: st.Params, Method: w.method, Path: w.path, Body: w.body, Before: w.before, After: w.after,
			Schema: r.ep.Schema}
		seq, err := j.Intent(intent)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errJournal, err)
		}
		if r.a.opts.beforeWrite != nil {
			if err := r.a.opts.beforeWrite(seq); err != nil {
				return nil, err
			}
		}
		resp, err := r.dv.Write(ctx, w.method, w.path, w.body, nil)
		out := Record{Tenant: r.ep.Tenant, EnvironmentID: r.ep.EnvironmentID, Action: st.Action, Method: w.method, Path: w.path}
		if err == nil {
			out.Result, out.Status = OutcomeApplied, resp.Status
			if id := api.EntityIDFromHeader(resp.Header); id != "" && w.method == http.MethodPost && !strings.HasSuffix(w.path, "$ref") {
				out.CreatedID = id
			}
			if jerr := j.Outcome(seq, out); jerr != nil {
				return resp, jerr
			}
			r.wrote = true
			return resp, nil
		}
		out.Error, out.Status = err.Error(), api.StatusOf(err)
		throttled := out.Status == http.StatusTooManyRequests
		unknown := !throttled && lostAnswer(err)
		switch {
		case unknown:
			out.Result = OutcomeUnknown
		default:
			out.Result = OutcomeFailed
		}
		if jerr := j.Outcome(seq, out); jerr != nil {
			return nil, jerr
		}
		if !throttled && !unknown {
			return nil, err
		}
		if unknown && (w.landed == nil || ctx.Err() != nil) {
			return nil, &errUnknown{err: err}
		}
		if throttled && attempt >= r.a.opts.MaxWriteAttempts {
			return nil, err // refused, and not to be sent again: nothing to wait for
		}
		if throttled || unknown {
			// Wait as a read would (bounded by the ceiling and the budget), then read the state.
			wait, werr := r.dv.RetryWait(ctx, err, attempt, waited)
			if werr != nil {
				if unknown {
					return nil, &errUnknown{err: werr}
				}
				return nil, werr
			}
			waited += wait
			r.a.waiting(r.ep, wait)
			if err := r.a.opts.Sleep(ctx, wait); err != nil {
				if unknown {
					return nil, &errUnknown{err: err}
				}
				return nil, err
			}
		}
		if w.landed != nil {
			done, cerr := w.landed(ctx)
			if cerr != nil {
				if unknown {
					return nil, &errUnknown{err: fmt.Errorf("%v; reading the state again failed too: %w", err, cerr)}
				}
				return nil, cerr
			}
			if done {
				// The write landed: the journal says so, for undo, with the answer that was lost.
				if jerr := j.Outcome(seq, Record{Tenant: r.ep.Tenant, EnvironmentID: r.ep.EnvironmentID, Action: st.Action, Method: w.method,
					Path: w.path, Result: OutcomeApplied, Error: "confirmed by re-reading: " + out.Error}); jerr != nil {
					return nil, jerr
				}
				r.wrote = true
				return nil, errConfirmed
			}
			if unknown {
				// It did not land: say so before sending it again.
				if jerr := j.Outcome(seq, Record{Tenant: r.ep.Tenant, EnvironmentID: r.ep.EnvironmentID, Action: st.Action, Method: w.method,
					Path: w.path, Result: OutcomeFailed, Error: "not landed, by re-reading: " + out.Error}); jerr != nil {
					return nil, jerr
				}
			}
		}
		if attempt >= r.a.opts.MaxWriteAttempts {
			if unknown {
				return nil, fmt.Errorf("%w (it did not land in %d attempts)", err, attempt)
			}
			return nil, err
		}
	}
}

// waiting says that a write waits long while the tenant's lock is held.
func (a *applier) waiting(ep *EnvPlan, d time.Duration) {
	if a.opts.Waiting != nil && d >= LongWait {
		a.opts.Waiting(ep.Tenant, ep.Name, d)
	}
}

// LongWait is the wait before a write from which Waiting is told: the lock of the tenant stays held meanwhile.
const LongWait = 5 * time.Second

// wrote is the outcome of a step whose last act was a write: applied (confirmed by re-reading when its answer
// was lost or refused), or the write's error.
func wrote(_ *api.Response, err error) (string, string, error) {
	if errors.Is(err, errConfirmed) {
		return OutcomeApplied, confirmed, nil
	}
	if err != nil {
		return "", "", err
	}
	return OutcomeApplied, "", nil
}
