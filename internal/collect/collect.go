// Package collect reads every environment of one or more tenants into a snapshot: BAP for the environment
// list, then per Dataverse organization the Work 365 solution, application users and their roles, the
// service-user setting, and the evidence tables of the rule catalog. Environments are read concurrently under
// a bound; one environment's failure is recorded on it and never stops the others.
package collect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/work365/audit/internal/api"
	"github.com/work365/audit/internal/snapshot"
)

// Defaults of the bounds; docs/performance.md explains the choice.
const (
	// DefaultConcurrency is the default bound on requests in flight across all environments and tenants: at
	// Dataverse's usual latency it reads 1,000 environments in seconds, it lets `audit fix` change 100
	// environments in one wave (each changes one request at a time), and it keeps the client's connections,
	// token requests and CPU modest.
	DefaultConcurrency = 128
	// DefaultPerEnvironment is the default bound within one environment: the widest step of an environment's
	// collection sends 9 requests at once, so 10 never makes them queue, far below Dataverse's 52.
	DefaultPerEnvironment = 10
	// MaxPerEnvironment is Dataverse's limit of concurrent requests per user (beyond it, 429 0x80072326).
	MaxPerEnvironment = 52
)

// Options control what is collected and how hard the APIs are driven.
type Options struct {
	// Concurrency bounds the requests in flight across all environments and tenants, and the environments
	// being read at once. Tenants share both fairly: while several want more, none is given more than its share.
	Concurrency int
	// PerEnvironment bounds the requests in flight within one environment (Dataverse allows 52 per user).
	PerEnvironment int
	// PageSize is asked with Prefer: odata.maxpagesize.
	PageSize int
	// EnvironmentTimeout bounds the collection of one environment.
	EnvironmentTimeout time.Duration

	// Work 365's solution is looked up by SolutionName (unique name), then by SolutionFriendlyName or Publisher;
	// where none matches, tables named with TablePrefix make the environment an error instead of "not installed".
	SolutionName         string
	SolutionFriendlyName string
	Publisher            string
	TablePrefix          string
	// The settings table (logical name) and its service-user lookup (logical name). Their entity set and
	// navigation property are read from each environment's metadata unless set here.
	SettingsTable         string
	SettingsEntitySet     string
	ServiceUserLookup     string
	ServiceUserNavigation string

	AppIDs          map[string]string // Work 365 App IDs by geo code; users with any of them are collected
	RoleNames       []string          // the Work 365 roles (service and portal)
	LookbackDays    int
	RecentJobs      int
	JobNamePrefixes []string

	Now         func() time.Time
	Progress    func(Event) // called from collector goroutines; must be safe for concurrent use
	ToolVersion string
	// Sink, when set, is given each tenant and environment as its collection completes, so that it can be
	// used (evaluated, written) at once; with DropData the collector then lets the environment's Dataverse
	// data go, and the snapshot Collect returns holds every environment without it.
	Sink     Sink
	DropData bool
}

// Sink receives a collection as it happens. Its methods are called from the collector's goroutines: Environment
// concurrently (it must be safe for that), Listed before any environment of its tenant, Done after all of them.
type Sink interface {
	// Listed gives a tenant whose environment list was read: Environments hold what the list says (or, when
	// the list could not be read, Error is set and there are none).
	Listed(t *snapshot.Tenant)
	// Environment gives one environment of the tenant, collected (or failed, or skipped); index is its place in
	// t.Environments, the order the tenant listed it in.
	Environment(t *snapshot.Tenant, index int, env *snapshot.Environment)
	// Done says every environment of the tenant went through Environment.
	Done(t *snapshot.Tenant)
}

// Target is one tenant to collect.
type Target struct {
	Name     string
	TenantID string
	Cloud    string
	BAPURL   string
	BAPScope string
	HTTP     *http.Client
	Tokens   api.TokenSource
	// Include reports whether an environment (display name, ID) is in scope; nil includes all.
	Include func(name, id string) bool
	// Client is built from HTTP and Tokens when nil; tests may inject one.
	Client *api.Client
}

// StateDisabled is the BAP runtime state of a disabled environment, the one state that is not read.
const StateDisabled = "Disabled"

// Event reports progress of one environment.
type Event struct {
	Tenant      string
	Environment string // display name
	ID          string
	Done        bool
	Status      string // collection status when Done
	Total       int    // environments in scope for the tenant, once known
	Elapsed     time.Duration
}

// Collector collects tenants into a snapshot.
type Collector struct {
	opts         Options
	requests     *fairSlots // a slot per request in flight
	environments *fairSlots // a slot per environment being read
}

// tenantShare is one tenant's part of the collector's bounds.
type tenantShare struct {
	requests     *tenantSlots
	environments *tenantSlots
}

// New returns a collector with defaults filled in.
func New(opts Options) *Collector {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.PerEnvironment <= 0 || opts.PerEnvironment > MaxPerEnvironment {
		opts.PerEnvironment = DefaultPerEnvironment
	}
	if opts.EnvironmentTimeout <= 0 {
		opts.EnvironmentTimeout = 5 * time.Minute
	}
	if opts.LookbackDays <= 0 {
		opts.LookbackDays = 7
	}
	if opts.RecentJobs <= 0 {
		opts.RecentJobs = 5
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// As many environments as requests: each environment being read always has a request in flight or
	// waiting, so the request slots never idle for want of work, while the goroutines and the state of
	// environments in progress stay bounded whatever the number of environments.
	return &Collector{opts: opts, requests: newFairSlots(opts.Concurrency), environments: newFairSlots(opts.Concurrency)}
}

// Settings returns what this collector looks for, as recorded in the snapshot.
func (c *Collector) Settings() snapshot.Settings {
	return snapshot.Settings{
		SolutionName:          c.opts.SolutionName,
		SolutionFriendlyName:  c.opts.SolutionFriendlyName,
		Publisher:             c.opts.Publisher,
		TablePrefix:           c.opts.TablePrefix,
		AppIDs:                c.opts.AppIDs,
		RoleNames:             c.opts.RoleNames,
		LookbackDays:          c.opts.LookbackDays,
		SettingsTable:         c.opts.SettingsTable,
		SettingsEntitySet:     c.opts.SettingsEntitySet,
		ServiceUserLookup:     c.opts.ServiceUserLookup,
		ServiceUserNavigation: c.opts.ServiceUserNavigation,
	}
}

// Collect reads all targets. Per-environment and per-tenant failures are recorded in the snapshot;
// the error is non-nil only when ctx ends.
func (c *Collector) Collect(ctx context.Context, targets []Target) (*snapshot.Snapshot, error) {
	snap := &snapshot.Snapshot{
		SchemaVersion: snapshot.SchemaVersion,
		Tool:          snapshot.Tool{Name: "audit", Version: c.opts.ToolVersion},
		CollectedAt:   c.opts.Now().UTC(),
		Settings:      c.Settings(),
		Tenants:       make([]snapshot.Tenant, len(targets)),
	}
	// Every tenant counts among those sharing the environment slots from the start, while its list is on its way,
	// so that the tenant whose list arrives first does not take the slots of all the others.
	shares := make([]tenantShare, len(targets))
	for i := range shares {
		shares[i] = tenantShare{requests: c.requests.tenant(false), environments: c.environments.tenant(true)}
	}
	var wg sync.WaitGroup
	for i := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			snap.Tenants[i] = c.collectTenant(ctx, targets[i], shares[i])
		}()
	}
	wg.Wait()
	snap.Sort()
	if err := ctx.Err(); err != nil {
		return snap, err
	}
	return snap, nil
}

func (t *Target) client() *api.Client {
	if t.Client == nil {
		t.Client = &api.Client{HTTP: t.HTTP, Tokens: t.Tokens}
	}
	return t.Client
}

func (c *Collector) collectTenant(ctx context.Context, t Target, share tenantShare) snapshot.Tenant {
	out := snapshot.Tenant{Name: t.Name, ID: t.TenantID, Cloud: t.Cloud, Environments: []snapshot.Environment{}}
	// Once its last environment has started (or it has none), the tenant leaves what it does not use of its
	// share of the environment slots to the others.
	stopExpecting := sync.OnceFunc(func() { share.environments.expect(false) })
	defer stopExpecting()
	client := t.client()
	envs, err := c.listEnvironments(ctx, client, t, share.requests)
	if err != nil {
		out.Error = describe("environments", err)
		if c.opts.Sink != nil {
			c.opts.Sink.Listed(&out)
			c.opts.Sink.Done(&out)
		}
		return out
	}
	var inScope []snapshot.Environment
	for _, e := range envs {
		if t.Include == nil || t.Include(e.Name, e.ID) {
			inScope = append(inScope, e)
		}
	}
	out.Environments = inScope
	// The sink's tenant is a copy with the environments as listed, which the collection does not change.
	var listed *snapshot.Tenant
	if c.opts.Sink != nil {
		cp := out
		cp.Environments = append([]snapshot.Environment(nil), inScope...)
		listed = &cp
		c.opts.Sink.Listed(listed)
		defer c.opts.Sink.Done(listed)
	}
	var wg sync.WaitGroup
	for i := range out.Environments {
		// Environments start in list order as the tenant is given slots; the per-environment timeout runs from
		// here, not from the start of the scan. When ctx ends, the rest start at once and record why they were
		// not read.
		slot := share.environments.acquire(ctx) == nil
		wg.Add(1)
		go func() {
			defer wg.Done()
			if slot {
				defer share.environments.release()
			}
			env := &out.Environments[i]
			start := time.Now()
			c.progress(Event{Tenant: t.Name, Environment: env.Name, ID: env.ID, Total: len(inScope)})
			c.collectEnvironment(ctx, client, share.requests, env)
			if c.opts.Sink != nil {
				c.opts.Sink.Environment(listed, i, env)
				if c.opts.DropData {
					env.Dataverse = nil
				}
			}
			c.progress(Event{Tenant: t.Name, Environment: env.Name, ID: env.ID, Done: true, Status: env.Status,
				Total: len(inScope), Elapsed: time.Since(start)})
		}()
	}
	stopExpecting()
	wg.Wait()
	return out
}

func (c *Collector) progress(e Event) {
	if c.opts.Progress != nil {
		c.opts.Progress(e)
	}
}

// collectEnvironment fills env from its Dataverse organization, or marks why it could not.
func (c *Collector) collectEnvironment(ctx context.Context, client *api.Client, requests *tenantSlots, env *snapshot.Environment) {
	switch {
	case !env.HasDataverse:
		env.Status, env.SkipReason = snapshot.StatusSkipped, "the environment has no Dataverse database"
		return
	case strings.EqualFold(env.State, StateDisabled):
		env.Status, env.SkipReason = snapshot.StatusSkipped, "the environment is disabled in the Power Platform admin center"
		return
	}
	// Every other runtime state is read: in admin mode (AdminMode) System Administrators — the auditor's
	// application user among them — can still use the Web API, Warning changes nothing, and a state this build
	// does not know is tried rather than dropped; if the organization refuses, the environment reports why.
	ctx, cancel := context.WithTimeout(ctx, c.opts.EnvironmentTimeout)
	defer cancel()
	dv, err := api.NewDataverse(client, env.InstanceURL, c.opts.PageSize)
	if err != nil {
		env.Status, env.Error = snapshot.StatusError, &snapshot.Error{Stage: "instance URL", Message: err.Error()}
		return
	}
	if c.opts.DropData {
		// The environment is read once: its organization's token is not needed after it.
		if f, ok := client.Tokens.(interface{ Forget(scope string) }); ok {
			defer f.Forget(dv.Scope())
		}
	}
	r := c.newReader(dv, env, requests)
	data, err := r.read(ctx)
	if err != nil {
		env.Status, env.Error = snapshot.StatusError, describeStage(err)
		if errors.Is(err, context.DeadlineExceeded) && env.Error.Message == context.DeadlineExceeded.Error() {
			env.Error.Message = fmt.Sprintf("timed out after %s (collect.timeout)", c.opts.EnvironmentTimeout)
		}
		return
	}
	env.Status, env.Dataverse = snapshot.StatusOK, data
}

// stageError names what was being read when an error happened.
type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

func inStage(stage string, err error) error {
	if err == nil {
		return nil
	}
	var se *stageError
	if errors.As(err, &se) {
		return err
	}
	return &stageError{stage: stage, err: err}
}

func describeStage(err error) *snapshot.Error {
	var se *stageError
	if errors.As(err, &se) {
		return describe(se.stage, se.err)
	}
	return describe("dataverse", err)
}

// describe turns an error into the snapshot's error record with advice where the cause is known.
func describe(stage string, err error) *snapshot.Error {
	out := &snapshot.Error{Stage: stage, Message: err.Error()}
	var ae *api.Error
	var we *api.WaitError
	if errors.As(err, &ae) {
		out.HTTPStatus, out.Code = ae.Status, ae.Code
		// A wait that was not started explains itself (the Retry-After asked for and the bound it passed).
		if hint := advice(stage, ae); hint != "" && !errors.As(err, &we) {
			out.Message = ae.Error() + " — " + hint
		}
	} else if strings.Contains(out.Message, "x509:") || strings.Contains(out.Message, "tls: failed to verify") {
		out.Message += " — the server's TLS certificate is not trusted: if it is served with a private CA, add that CA with SSL_CERT_FILE (TLS verification is never turned off)"
	}
	return out
}

func advice(stage string, e *api.Error) string {
	switch {
	case stage == "environments" && e.Status == http.StatusForbidden:
		return "the auditor's app is not registered as a Power Platform admin management application. " +
			"A Power Platform administrator registers it once: Power Platform admin center → Settings → Admin management applications (or " +
			"PUT https://api.bap.microsoft.com/providers/Microsoft.BusinessAppPlatform/adminApplications/{client-id}?api-version=2020-10-01 " +
			"as an admin, or pac admin application register --application-id {client-id})"
	case stage == "solutions" && e.Status == http.StatusNotFound:
		return "the organization was not found at its instance URL: the environment may have been deleted or moved since it was listed; scan again"
	case e.Code == "0x80072560":
		return "the auditor's app has no application user in this environment: add one (Power Platform admin center → Environments → " +
			"the environment → Settings → Users + permissions → Application users) with a role that can read users, roles and solutions"
	case e.Status == http.StatusForbidden:
		return "the auditor's application user lacks a privilege in this environment: give it a role that can read (and, for audit fix, write) users and roles"
	case e.Status == http.StatusUnauthorized:
		return "the token was refused: check the tenant, the cloud setting and that the app is consented in this tenant"
	case e.Status == http.StatusTooManyRequests:
		return "Dataverse kept throttling after retries: lower collect.concurrency or collect.per_environment"
	}
	return ""
}
