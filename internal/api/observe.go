package api

import (
	"net/http"
	"net/url"
	"strings"
)

// Service is the Microsoft service a request goes to, as counters of traffic name it.
type Service string

// The services the auditor talks to.
const (
	ServiceEntra     Service = "entra"     // tokens, and the discovery that MSAL does before asking for one
	ServiceBAP       Service = "bap"       // the Power Platform admin API (the environment list)
	ServiceDataverse Service = "dataverse" // every organization's Web API
)

// Services lists every Service, for counters that start at zero.
var Services = []Service{ServiceEntra, ServiceBAP, ServiceDataverse}

// ServiceOf names the service of a request URL by its path, which is the same on every cloud and on the
// emulator: BAP's under /providers/Microsoft.BusinessAppPlatform/, Dataverse's under /api/data/. Everything
// else the auditor's HTTP client sends is a token request or MSAL's discovery.
func ServiceOf(u *url.URL) Service {
	p := strings.ToLower(u.Path)
	switch {
	case strings.Contains(p, "/providers/microsoft.businessappplatform/"):
		return ServiceBAP
	case strings.Contains(p, "/api/data/"):
		return ServiceDataverse
	}
	return ServiceEntra
}

// Observer is told of the traffic of the auditor's HTTP client, for counters kept above this package (the
// scheduler's metrics). Its methods are called concurrently and must not block.
type Observer interface {
	// Exchange is called once for every HTTP request sent, retries included, with the status of its answer,
	// or 0 when no answer came (a transport error).
	Exchange(s Service, status int)
	// Retry is called each time a Client tries a request again after a throttled, failed or unanswered attempt.
	Retry(s Service)
}

// ObservedTransport returns a RoundTripper that sends through next (the default transport when nil) and tells
// o of each exchange. Token requests, which MSAL sends with the same HTTP client, are observed too.
func ObservedTransport(next http.RoundTripper, o Observer) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &observedTransport{next: next, o: o}
}

type observedTransport struct {
	next http.RoundTripper
	o    Observer
}

func (t *observedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	t.o.Exchange(ServiceOf(req.URL), status)
	return resp, err
}
