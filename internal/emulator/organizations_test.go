package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// manyOrganizations is a tenant of n small Dataverse environments.
func manyOrganizations(n int) *Fixture {
	f := &Fixture{
		Tenant:  TenantInfo{Name: "northwind"},
		Clients: []Client{{Name: "Auditor", ClientID: auditorID, Secret: auditorSecret}},
	}
	for i := range n {
		f.Environments = append(f.Environments, Environment{Name: fmt.Sprintf("Org %03d", i), Dataverse: &Dataverse{}})
	}
	return f
}

// openFDs counts this process's open file descriptors, or -1 where /proc does not tell.
func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}

// Not parallel: it counts the process's goroutines and file descriptors around the server's life.
func TestEveryOrganizationHasItsOwnOriginAndAudience(t *testing.T) {
	const n = 300
	fds, goroutines := openFDs(), runtime.NumGoroutine()
	srv, err := New(manyOrganizations(n), Options{})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	closed := false
	defer func() {
		if !closed {
			srv.Close()
		}
	}()

	names := make([]string, n)
	origins := map[string]bool{srv.URL(): true}
	for i := range names {
		names[i] = fmt.Sprintf("Org %03d", i)
		u, err := url.Parse(srv.InstanceURL(names[i]))
		require.NoError(t, err)
		assert.Equal(t, "/", u.Path, "an organization is served at the root of its own origin")
		assert.False(t, origins[u.Scheme+"://"+u.Host], "origin %s is shared", u.Host)
		origins[u.Scheme+"://"+u.Host] = true
	}

	client := srv.HTTPClient()
	defer client.CloseIdleConnections()
	get := func(rawURL, token string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		return resp, nil
	}
	tokens := make([]string, n)
	parallel := func(do func(i int)) {
		var wg sync.WaitGroup
		work := make(chan int)
		for range 16 {
			wg.Go(func() {
				for i := range work {
					do(i)
				}
			})
		}
		for i := range n {
			work <- i
		}
		close(work)
		wg.Wait()
	}
	parallel(func(i int) {
		resp, err := client.PostForm(srv.Authority()+"/oauth2/v2.0/token", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {auditorID}, "client_secret": {auditorSecret},
			"scope": {srv.DataverseScope(names[i])},
		})
		if !assert.NoError(t, err) {
			return
		}
		defer resp.Body.Close()
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if assert.Equal(t, http.StatusOK, resp.StatusCode) && assert.NoError(t, json.NewDecoder(resp.Body).Decode(&body)) {
			tokens[i] = body.AccessToken
		}
	})
	parallel(func(i int) {
		whoAmI := srv.InstanceURL(names[i]) + "api/data/v9.2/WhoAmI"
		resp, err := get(whoAmI, tokens[i])
		if assert.NoError(t, err) {
			assert.Equal(t, http.StatusOK, resp.StatusCode, "%s with its own token", names[i])
		}
		resp, err = get(whoAmI, tokens[(i+1)%n])
		if assert.NoError(t, err) {
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s with the next organization's token", names[i])
			assert.True(t, strings.HasSuffix(resp.Header.Get("WWW-Authenticate"), "resource_id="+strings.TrimSuffix(srv.InstanceURL(names[i]), "/")),
				"%s names its own origin: %s", names[i], resp.Header.Get("WWW-Authenticate"))
		}
	})
	st := srv.Stats()
	assert.Len(t, st.TokenRequests, n, "one audience per organization")
	for i := range names {
		assert.Equal(t, 1, st.TokenRequests[strings.TrimSuffix(srv.InstanceURL(names[i]), "/")], names[i])
	}
	assert.Len(t, st.ByEnvironment, n)

	client.CloseIdleConnections()
	require.NoError(t, srv.Close())
	closed = true
	for _, name := range names {
		u, err := url.Parse(srv.InstanceURL(name))
		require.NoError(t, err)
		conn, err := net.Dial("tcp", u.Host)
		if err == nil {
			conn.Close()
		}
		assert.Error(t, err, "%s still listens after Close", name)
	}
	// Closed connections finish on their own goroutines; nothing the server started may outlive it.
	if fds >= 0 {
		assert.LessOrEqual(t, settle(fds, openFDs), fds, "file descriptors")
	}
	assert.LessOrEqual(t, settle(goroutines, runtime.NumGoroutine), goroutines, "goroutines")
}

// settle waits until count() is at most want, for goroutines that are ending, and returns the last count.
// The deadline is generous and only a failing test reaches it.
func settle(want int, count func() int) int {
	deadline := time.Now().Add(10 * time.Second)
	n := count()
	for n > want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		n = count()
	}
	return n
}
