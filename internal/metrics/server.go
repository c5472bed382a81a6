package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// DefaultPort is the port of --metrics-addr when the value names none.
const DefaultPort = "9365"

// ListenAddress reads the value of --metrics-addr. The metrics stay on this machine unless the value says
// otherwise: an empty host (":9365") is the loopback address 127.0.0.1, not every interface as in Go's
// net.Listen; a port alone ("9365") is on that address too; a host without a port gets DefaultPort. Every interface must be named, 0.0.0.0:9365 or
// [::]:9365, as in a container whose metrics Prometheus scrapes.
func ListenAddress(value string) (string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", errors.New("--metrics-addr needs HOST:PORT, e.g. 127.0.0.1:9365 (or 0.0.0.0:9365 to be reached from other machines)")
	}
	if strings.Trim(v, "0123456789") == "" {
		v = ":" + v // a port alone
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		// No port: the whole value is the host ("localhost", "0.0.0.0", "::1" or "[::1]").
		host, port = v, DefaultPort
		if h, ok := strings.CutPrefix(v, "["); ok && strings.HasSuffix(h, "]") {
			host = strings.TrimSuffix(h, "]")
		}
		if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
			return "", fmt.Errorf("--metrics-addr %q: %v: give HOST:PORT, e.g. 127.0.0.1:9365 or [::1]:9365", value, err)
		}
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Loopback says whether a listening address is reachable from this machine only.
func Loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// Server serves the metrics and the health check over HTTP.
type Server struct {
	// Addr is the address it listens on, with the port the system chose for port 0.
	Addr net.Addr
	srv  *http.Server
	done chan struct{}
}

// Serve listens on the value of --metrics-addr (see ListenAddress) and serves h until Close.
func Serve(value string, h http.Handler) (*Server, error) {
	addr, err := ListenAddress(value)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve metrics: %w", err)
	}
	s := &Server{Addr: ln.Addr(), done: make(chan struct{}),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // ends with http.ErrServerClosed at Close
	}()
	return s, nil
}

// URL is the base URL of the server, for messages.
func (s *Server) URL() string { return "http://" + s.Addr.String() }

// Close stops the server, letting a scrape that is under way finish for up to five seconds.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
