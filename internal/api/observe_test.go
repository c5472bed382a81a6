package api

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServiceOfNamesTheServiceByThePath(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]Service{
		"https://api.bap.microsoft.com/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?api-version=2020-10-01": ServiceBAP,
		"https://127.0.0.1:9443/providers/microsoft.businessappplatform/scopes/admin/environments":                               ServiceBAP,
		"https://org.crm.dynamics.com/api/data/v9.2/systemusers?$select=fullname":                                                ServiceDataverse,
		"https://127.0.0.1:40001/api/data/v9.2/WhoAmI":                                                                           ServiceDataverse,
		"https://login.microsoftonline.com/3f6c1d2e-8a4b-4c7d-9e1f-2a3b4c5d6e7f/oauth2/v2.0/token":                               ServiceEntra,
		"https://login.microsoftonline.com/common/discovery/instance?api-version=1.1":                                            ServiceEntra,
		"http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01":                                           ServiceEntra,
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		assert.Equal(t, want, ServiceOf(u), raw)
	}
}

// countingObserver counts exchanges by service and status, and retries by service.
type countingObserver struct {
	mu        sync.Mutex
	exchanges map[Service][]int
	retries   map[Service]int
}

func (o *countingObserver) Exchange(s Service, status int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.exchanges[s] = append(o.exchanges[s], status)
}

func (o *countingObserver) Retry(s Service) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.retries[s]++
}

// Every request the transport sends is observed with its status, retries included; the client tells of each
// retry, by service; a request that gets no answer is observed with status 0.
func TestTheObserverSeesEveryExchangeAndRetry(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv, dv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments" {
			writeJSON(w, 200, `{"value":[]}`)
			return
		}
		if calls.Add(1) <= 2 {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, 429, throttled)
			return
		}
		writeJSON(w, 200, string(payload(t, "whoami.json")))
	})
	obs := &countingObserver{exchanges: map[Service][]int{}, retries: map[Service]int{}}
	hc := *c.HTTP
	hc.Transport = ObservedTransport(hc.Transport, obs)
	c.HTTP, c.Observer = &hc, obs

	require.NoError(t, dv.Get(context.Background(), "WhoAmI", &struct{}{}))
	_, err := c.Do(context.Background(), Request{Method: http.MethodGet, URL: srv.URL + "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments", Retry: true})
	require.NoError(t, err)
	assert.Equal(t, map[Service][]int{ServiceDataverse: {429, 429, 200}, ServiceBAP: {200}}, obs.exchanges)
	assert.Equal(t, map[Service]int{ServiceDataverse: 2}, obs.retries)
	assert.Equal(t, Stats{Requests: 4, Retries: 2}, c.Stats(), "the client's own counters agree")

	srv.Close()
	c.MaxAttempts = 1
	_, err = c.Do(context.Background(), Request{Method: http.MethodGet, URL: srv.URL + "/oauth2/v2.0/token", Retry: true})
	require.Error(t, err)
	assert.Equal(t, []int{0}, obs.exchanges[ServiceEntra])
}
