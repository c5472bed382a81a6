// Package demo serves tenant fixtures with the emulator and points a real run at them: one emulator per
// fixture on loopback, a config with one tenant per fixture, and an HTTP client that trusts the emulators' CAs
// and nothing else. audit demo, the end-to-end tests and the rehearsals run the product's code path on it.
// The demo tenants and their settings are built in (Bundled, BundledSettings), so the demo needs no clone.
package demo

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/emulator"
	"github.com/work365/audit/testdata/tenants"
)

// SecretVar carries a fixture's client secret to the run through the normal credential path: the tenant
// of fixture i reads it from SecretVar followed by i.
const SecretVar = "AUDIT_DEMO_CLIENT_SECRET_"

// Emulators are running emulators, the config that names them, and what a run needs to reach them.
type Emulators struct {
	Servers []*emulator.Server
	Config  *config.Config
	// HTTP trusts the emulators' CAs (and nothing else).
	HTTP *http.Client
	// Secrets are the fixtures' client secrets by the variable their tenant reads.
	Secrets map[string]string
}

// ErrFixtureNotFound is a fixture file that does not exist.
var ErrFixtureNotFound = errors.New("tenant fixture not found")

// Fixture is a tenant fixture and what names it in messages: its file, or the bundled file's name.
type Fixture struct {
	Name string
	*emulator.Fixture
}

// Load reads tenant fixture files.
func Load(paths []string) ([]Fixture, error) {
	out := make([]Fixture, 0, len(paths))
	for _, path := range paths {
		fx, err := emulator.LoadFixture(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%w: %s", ErrFixtureNotFound, path)
			}
			return nil, err
		}
		out = append(out, Fixture{Name: path, Fixture: fx})
	}
	return out, nil
}

// Bundled reads the demo tenants built into the binary (testdata/tenants: Contoso, then Fabrikam).
func Bundled() ([]Fixture, error) {
	out := make([]Fixture, 0, len(tenants.Demo))
	for _, name := range tenants.Demo {
		data, err := tenants.Read(name)
		if err != nil {
			return nil, err
		}
		fx, err := emulator.ParseFixture(data, "")
		if err != nil {
			return nil, fmt.Errorf("bundled fixture %s: %w", name, err)
		}
		out = append(out, Fixture{Name: name, Fixture: fx})
	}
	return out, nil
}

// BundledConfigPath is what the bundled demo settings are called in messages (a waiver's place, for one): the
// file's path in the source repository, where it can be read.
const BundledConfigPath = "testdata/tenants/" + tenants.DemoConfig

// BundledSettings are the demo's settings built into the binary: its waivers (the tenants come from the fixtures).
func BundledSettings() (*config.Config, error) {
	data, err := tenants.Read(tenants.DemoConfig)
	if err != nil {
		return nil, err
	}
	return config.ParseSettings(data, BundledConfigPath)
}

// Fixtures reads the tenant fixture files, or the bundled demo tenants when there are none.
func Fixtures(paths []string) ([]Fixture, error) {
	if len(paths) == 0 {
		return Bundled()
	}
	return Load(paths)
}

// Settings reads the demo's settings file, or the bundled demo settings when path is empty.
func Settings(path string) (*config.Config, error) {
	if path == "" {
		return BundledSettings()
	}
	return config.LoadSettings(path)
}

// Served names what a demo of these fixture files served, for its closing message: the files, or the bundled
// demo tenants by name when there are none.
func Served(paths []string, tenants []config.Tenant) string {
	if len(paths) > 0 {
		return "demo tenants (" + strings.Join(paths, ", ") + ")"
	}
	names := make([]string, 0, len(tenants))
	for _, t := range tenants {
		names = append(names, t.Name)
	}
	return "bundled demo tenants (" + strings.Join(names, ", ") + ")"
}

// Start serves each fixture file (the bundled demo tenants when there are none, see Fixtures) on its own
// loopback port. now is the emulators' clock when opts has none.
func Start(paths []string, opts emulator.Options, now func() time.Time) (*Emulators, error) {
	fxs, err := Fixtures(paths)
	if err != nil {
		return nil, err
	}
	return Serve(fxs, opts, now)
}

// Serve serves each fixture on its own loopback port. now is the emulators' clock when opts has none.
func Serve(fixtures []Fixture, opts emulator.Options, now func() time.Time) (*Emulators, error) {
	out := &Emulators{Config: &config.Config{}, Secrets: map[string]string{}}
	pool := x509.NewCertPool()
	for i, fx := range fixtures {
		if len(fx.Clients) == 0 || fx.Clients[0].Secret == "" {
			out.Close()
			return nil, fmt.Errorf("%s: the first client needs a secret for the demo to authenticate with", fx.Name)
		}
		o := opts
		if o.Now == nil {
			o.Now = now
		}
		srv, err := emulator.New(fx.Fixture, o)
		if err == nil {
			err = srv.Start()
		}
		if err != nil {
			out.Close()
			return nil, fmt.Errorf("start emulator for %s: %w", fx.Name, err)
		}
		out.Servers = append(out.Servers, srv)
		pool.AppendCertsFromPEM(srv.CACertPEM())
		secretVar := fmt.Sprintf("%s%d", SecretVar, i)
		out.Secrets[secretVar] = fx.Clients[0].Secret
		out.Config.Tenants = append(out.Config.Tenants, config.Tenant{
			Name: fx.Tenant.Name, TenantID: srv.TenantID(), ClientID: fx.Clients[0].ClientID,
			ClientSecretEnv: secretVar, Authority: srv.URL(), BAP: srv.BAPURL(), BAPScope: srv.BAPScope(),
		})
	}
	out.Config.ApplyDefaults()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 64}
	out.HTTP = &http.Client{Transport: tr, Timeout: time.Duration(out.Config.Collect.RequestTimeout)}
	return out, nil
}

// Getenv answers the fixtures' secret variables, and asks next for the others.
func (e *Emulators) Getenv(next func(string) string) func(string) string {
	return func(k string) string {
		if v, ok := e.Secrets[k]; ok {
			return v
		}
		return next(k)
	}
}

// Close stops every emulator.
func (e *Emulators) Close() {
	for _, s := range e.Servers {
		s.Close()
	}
}
