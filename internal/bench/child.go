package bench

import (
	"runtime"
	"time"
)

// The hidden subcommands of audit-bench that the harness starts as separate processes.
const (
	CmdServe   = "serve"
	CmdScan    = "scan"
	CmdCollect = "collect"
	CmdEval    = "eval"
	CmdFix     = "fix"
)

// SecretVar carries the generated client secret to the scan processes through the normal credential path.
const SecretVar = "AUDIT_BENCH_CLIENT_SECRET"

// ScanRun is what a scan process reports about itself.
type ScanRun struct {
	Concurrency    int `json:"concurrency"`
	PerEnvironment int `json:"per_environment"`
	Environments   int `json:"environments"`
	OK             int `json:"ok"`
	Errors         int `json:"errors"`

	LoadPolicySeconds float64 `json:"load_policies_seconds"`
	CollectSeconds    float64 `json:"collect_seconds"`
	EvaluateSeconds   float64 `json:"evaluate_seconds"`
	ReportSeconds     float64 `json:"report_seconds"`
	CommandSeconds    float64 `json:"command_seconds"`

	ClientRequests int64 `json:"client_requests"`
	Retries        int64 `json:"retries"`
	TokenRequests  int64 `json:"token_requests"`
	Connections    int64 `json:"connections"`
	HTTP2          int64 `json:"http2_responses"`
	// FirstRequestSeconds is the time from the process's start to its first request.
	FirstRequestSeconds float64  `json:"first_request_seconds"`
	HTTP1               int64    `json:"http1_responses"`
	Collect             OrgStats `json:"collect_trace"`

	CollectAlloc Alloc `json:"collect_alloc"`
	// PeakRSS is VmHWM at the end; the others are VmHWM after collecting and after evaluating.
	PeakRSS          int64  `json:"peak_rss_bytes"`
	PeakRSSCollect   int64  `json:"peak_rss_collect_bytes"`
	PeakRSSEvaluate  int64  `json:"peak_rss_evaluate_bytes"`
	HeapAfterCollect uint64 `json:"heap_after_collect_bytes"` // heap objects, garbage included
}

// EvalRun is what an evaluation process reports.
type EvalRun struct {
	Environments   int       `json:"environments"`
	Evaluated      int       `json:"evaluated"`
	Workers        int       `json:"workers"`
	PrepareSeconds float64   `json:"prepare_seconds"`
	Seconds        []float64 `json:"seconds"`
	CPUSeconds     []float64 `json:"cpu_seconds"` // user + system time of each run
	Alloc          Alloc     `json:"alloc"`
	Results        int       `json:"results"`
	// Statuses counts results by status, to compare with `opa eval` on the same input.
	Statuses map[string]int `json:"statuses"`
	// OPAQuery is the query to give `opa eval` with the files written to the output directory.
	OPAQuery string `json:"opa_query"`
}

// FixRun is what a fix process reports.
type FixRun struct {
	Environments  int      `json:"environments"`
	Steps         int      `json:"steps"`
	Outcomes      []string `json:"outcomes"`
	Applied       int      `json:"applied"`
	Failed        int      `json:"failed"`
	Concurrency   int      `json:"concurrency"`
	PlanSeconds   float64  `json:"plan_seconds"`
	ApplySeconds  float64  `json:"apply_seconds"`
	VerifySeconds float64  `json:"verify_seconds"`
	Apply         OrgStats `json:"apply_trace"`
	Writes        int      `json:"writes"`
	PeakRSS       int64    `json:"peak_rss_bytes"`
}

// Alloc is the heap allocation of a stretch of work.
type Alloc struct {
	Bytes   uint64 `json:"bytes"`
	Objects uint64 `json:"objects"`
	GCs     uint32 `json:"gcs"`
}

// Meter measures allocations between NewMeter and Stop.
type Meter struct {
	start runtime.MemStats
	t     time.Time
}

// NewMeter starts measuring.
func NewMeter() *Meter {
	m := &Meter{t: time.Now()}
	runtime.ReadMemStats(&m.start)
	return m
}

// Stop returns the allocations and the time since NewMeter.
func (m *Meter) Stop() (Alloc, time.Duration) {
	d := time.Since(m.t)
	var end runtime.MemStats
	runtime.ReadMemStats(&end)
	return Alloc{Bytes: end.TotalAlloc - m.start.TotalAlloc, Objects: end.Mallocs - m.start.Mallocs, GCs: end.NumGC - m.start.NumGC}, d
}

// LiveHeap returns the bytes of heap objects allocated and not yet freed (garbage included: it does not
// collect, so as not to change what it measures).
func LiveHeap() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// CPUSeconds is the user and system time this process has used so far (0 where the system does not say).
func CPUSeconds() float64 { return selfCPUSeconds() }
