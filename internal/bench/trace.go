package bench

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Trace is an http.RoundTripper that records when each request started and when its body was read to the
// end, by Dataverse organization (the host of its instance URL: a real instance's, or the emulator's port of
// that organization).
type Trace struct {
	Next  http.RoundTripper
	start time.Time

	mu      sync.Mutex
	records []Record
	h2      atomic.Int64
	h1      atomic.Int64
}

// Record is one request seen by a Trace.
type Record struct {
	Org    string // "" for token and BAP requests
	Method string
	Start  time.Duration
	End    time.Duration
	Status int
}

// NewTrace wraps next; times are relative to now.
func NewTrace(next http.RoundTripper) *Trace { return &Trace{Next: next, start: time.Now()} }

// RoundTrip records the request around the wrapped transport.
func (t *Trace) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := Record{Org: orgOf(req), Method: req.Method, Start: time.Since(t.start)}
	resp, err := t.Next.RoundTrip(req)
	if err != nil {
		rec.End = time.Since(t.start)
		t.add(rec)
		return nil, err
	}
	if resp.ProtoMajor == 2 {
		t.h2.Add(1)
	} else {
		t.h1.Add(1)
	}
	rec.Status = resp.StatusCode
	resp.Body = &tracedBody{ReadCloser: resp.Body, done: func() {
		rec.End = time.Since(t.start)
		t.add(rec)
	}}
	return resp, nil
}

func (t *Trace) add(r Record) {
	t.mu.Lock()
	t.records = append(t.records, r)
	t.mu.Unlock()
}

// Records returns what was recorded so far, by start time.
func (t *Trace) Records() []Record {
	t.mu.Lock()
	out := append([]Record(nil), t.records...)
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// Started is when the trace's time begins.
func (t *Trace) Started() time.Time { return t.start }

// Since returns the offset of now in the trace's time, to cut the records into phases.
func (t *Trace) Since() time.Duration { return time.Since(t.start) }

// Protocols counts the answers received over HTTP/2 and over HTTP/1.x.
func (t *Trace) Protocols() (h2, h1 int64) { return t.h2.Load(), t.h1.Load() }

// tracedBody reports the end of a request once, when its body is read to the end or closed.
type tracedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *tracedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.done)
	}
	return n, err
}

func (b *tracedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}

func orgOf(req *http.Request) string {
	if strings.Contains(req.URL.Path, "/api/data/") {
		return req.URL.Host
	}
	return ""
}

// Between keeps the records that started in [from, to).
func Between(rs []Record, from, to time.Duration) []Record {
	var out []Record
	for _, r := range rs {
		if r.Start >= from && r.Start < to {
			out = append(out, r)
		}
	}
	return out
}

// OrgStats summarises the Dataverse requests of a set of records.
type OrgStats struct {
	Orgs int `json:"environments"`
	// Requests counts Dataverse requests; MaxPerOrg the most any one organization received.
	Requests, MaxPerOrg int
	// Depth is the longest chain of requests of one organization in which each started after the previous
	// one was answered: the dependency depth when nothing queued.
	Depth int
	// MaxInFlight and MaxInFlightPerOrg are the peaks of requests in flight, overall and in one organization.
	MaxInFlight, MaxInFlightPerOrg int
}

// Summarise computes OrgStats over the Dataverse requests in rs.
func Summarise(rs []Record) OrgStats {
	byOrg := map[string][]Record{}
	var all []Record
	for _, r := range rs {
		if r.Org == "" {
			continue
		}
		byOrg[r.Org] = append(byOrg[r.Org], r)
		all = append(all, r)
	}
	out := OrgStats{Orgs: len(byOrg), Requests: len(all), MaxInFlight: peak(all)}
	for _, list := range byOrg {
		out.MaxPerOrg = max(out.MaxPerOrg, len(list))
		out.MaxInFlightPerOrg = max(out.MaxInFlightPerOrg, peak(list))
		out.Depth = max(out.Depth, depth(list))
	}
	return out
}

// depth is the longest chain of non-overlapping requests, each starting after the previous one ended.
func depth(rs []Record) int {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Start < rs[j].Start })
	d := make([]int, len(rs))
	best := 0
	for i := range rs {
		d[i] = 1
		for j := 0; j < i; j++ {
			if rs[j].End <= rs[i].Start && d[j]+1 > d[i] {
				d[i] = d[j] + 1
			}
		}
		best = max(best, d[i])
	}
	return best
}

// peak is the largest number of intervals open at once.
func peak(rs []Record) int {
	type ev struct {
		at    time.Duration
		delta int
	}
	evs := make([]ev, 0, 2*len(rs))
	for _, r := range rs {
		evs = append(evs, ev{r.Start, 1}, ev{r.End, -1})
	}
	// Ends sort before starts at the same instant: a request answered as the next one starts did not overlap it.
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return evs[i].delta < evs[j].delta
	})
	cur, best := 0, 0
	for _, e := range evs {
		cur += e.delta
		best = max(best, cur)
	}
	return best
}
