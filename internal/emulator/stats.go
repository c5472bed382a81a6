package emulator

import (
	"maps"
	"net/http"
	"time"
)

// Stats counts what the emulator has served since New or the last ResetStats.
type Stats struct {
	// Requests counts all BAP and Dataverse requests.
	Requests int
	// TokenRequests counts issued tokens by audience ("https://service.powerapps.com", or an organization's
	// origin such as "https://127.0.0.1:PORT").
	TokenRequests map[string]int
	// TokenErrors counts token requests that were refused.
	TokenErrors int
	// Credentials counts issued tokens by how they were obtained: "client_secret", "certificate",
	// "federated <issuer> <subject>", "managed_identity", "device_code" or "refresh_token".
	Credentials map[string]int
	// ByEnvironment holds Dataverse counters by environment ID.
	ByEnvironment map[string]EnvStats
	// MaxInFlight is the global peak of concurrent BAP and Dataverse requests.
	MaxInFlight int
}

// EnvStats counts the Dataverse requests of one environment.
type EnvStats struct {
	Requests    int
	Writes      int
	MaxInFlight int
	Throttled   int
}

// WriteRecord is one write request received by Dataverse, accepted or not.
type WriteRecord struct {
	Time          time.Time
	EnvironmentID string
	Method        string
	// Path is the request path with its query, relative to the organization's origin.
	Path string
	// IfMatch is the request's If-Match header ("" when absent), which decides between update and upsert.
	IfMatch string
	Body    string
	// Status is the status the client saw; 0 when the connection was closed without an answer.
	Status int
}

type statsState struct {
	requests    int
	tokens      map[string]int
	credentials map[string]int
	tokenErrors int
	byEnv       map[string]*EnvStats
	inFlight    int
	maxInFlight int
}

func newStatsState() statsState {
	return statsState{tokens: map[string]int{}, credentials: map[string]int{}, byEnv: map[string]*EnvStats{}}
}

// Stats returns a snapshot copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{
		Requests:      s.stats.requests,
		TokenRequests: maps.Clone(s.stats.tokens),
		TokenErrors:   s.stats.tokenErrors,
		Credentials:   maps.Clone(s.stats.credentials),
		ByEnvironment: map[string]EnvStats{},
		MaxInFlight:   s.stats.maxInFlight,
	}
	for id, e := range s.stats.byEnv {
		out.ByEnvironment[id] = *e
	}
	return out
}

// ResetStats zeroes the counters (requests in flight stay counted as in flight).
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	inFlight := s.stats.inFlight
	s.stats = newStatsState()
	s.stats.inFlight = inFlight
	s.stats.maxInFlight = inFlight
	for _, e := range s.envs {
		if e.inFlight > 0 {
			s.stats.byEnv[e.id] = &EnvStats{MaxInFlight: e.inFlight}
		}
	}
}

// Writes returns every Dataverse write request received, in order.
func (s *Server) Writes() []WriteRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WriteRecord(nil), s.writes...)
}

// begin counts a BAP (env nil) or Dataverse request as arrived and in flight; the returned func ends it.
// The environment's in-flight count after this request is returned for the concurrency check.
func (s *Server) begin(env *environment, write bool) (inFlight int, end func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.requests++
	s.stats.inFlight++
	s.stats.maxInFlight = max(s.stats.maxInFlight, s.stats.inFlight)
	if env != nil {
		es := s.envStats(env.id)
		es.Requests++
		if write {
			es.Writes++
		}
		env.inFlight++
		es.MaxInFlight = max(es.MaxInFlight, env.inFlight)
		inFlight = env.inFlight
	}
	return inFlight, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stats.inFlight--
		if env != nil {
			env.inFlight--
		}
	}
}

// envStats returns the counters of an environment; callers hold s.mu.
func (s *Server) envStats(id string) *EnvStats {
	es := s.stats.byEnv[id]
	if es == nil {
		es = &EnvStats{}
		s.stats.byEnv[id] = es
	}
	return es
}

func (s *Server) countThrottled(env *environment) {
	s.mu.Lock()
	s.envStats(env.id).Throttled++
	s.mu.Unlock()
}

func (s *Server) countToken(audience, credential string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.stats.tokens[audience]++
		s.stats.credentials[credential]++
	} else {
		s.stats.tokenErrors++
	}
}

func (s *Server) recordWrite(env *environment, r *http.Request, body []byte, status int) {
	path := r.URL.Path
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, WriteRecord{
		Time: s.opts.Now(), EnvironmentID: env.id, Method: r.Method, Path: path, IfMatch: r.Header.Get("If-Match"),
		Body: string(body), Status: status,
	})
}
