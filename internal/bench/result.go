package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// SchemaVersion identifies the layout of Result; it changes when a field changes meaning.
const SchemaVersion = "audit-bench/1"

// Result is one run of the harness. docs/performance.md documents every field.
type Result struct {
	Schema    string  `json:"schema"`
	StartedAt string  `json:"started_at"`
	Tool      string  `json:"tool_version"`
	Machine   Machine `json:"machine"`
	Params    Params  `json:"params"`

	Scan       ScanSummary       `json:"scan"`
	Sequential SequentialSummary `json:"sequential"`
	Evaluation EvalSummary       `json:"evaluation"`
	Fix        FixSummary        `json:"fix"`
	Goals      []Goal            `json:"goals"`

	HarnessSeconds float64 `json:"harness_seconds"`
}

// Machine describes where the run happened, and how busy the machine was with other work meanwhile.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemoryMiB int64  `json:"memory_mib"`
	OS        string `json:"os"`
	Go        string `json:"go"`
	// LoadAverage is /proc/loadavg's one-minute average when the run started and ended.
	LoadAverage [2]float64 `json:"load_average"`
	// OtherCPUSeconds is CPU time the machine spent on processes other than the harness and its children
	// during the timed scans: noise from other work, which the ratios do not correct for.
	OtherCPUSeconds float64 `json:"other_cpu_seconds"`
}

// Params are the inputs of a run.
type Params struct {
	Environments     int     `json:"environments"`
	UsersPerEnv      int     `json:"users_per_environment"`
	AppUsersPerEnv   int     `json:"application_users_per_environment"`
	LatencyMS        float64 `json:"latency_ms"`
	DataverseLimit   int     `json:"dataverse_concurrency_limit"`
	Concurrency      int     `json:"concurrency"`
	PerEnvironment   int     `json:"per_environment"`
	SequentialSample int     `json:"sequential_sample"`
	FixEnvironments  int     `json:"fix_environments"`
	Tenants          int     `json:"tenants"`
	Work365Share     float64 `json:"work365_share"`
}

// ScanSummary is the full scan at the default (or given) concurrency.
type ScanSummary struct {
	EmulatorStartSeconds float64 `json:"emulator_start_seconds"`
	Environments         int     `json:"environments"`
	EnvironmentsOK       int     `json:"environments_ok"`
	EnvironmentsError    int     `json:"environments_error"`

	WallSeconds       float64 `json:"wall_seconds"` // collection: environment list to snapshot
	Requests          int     `json:"requests"`     // BAP and Dataverse requests the emulator answered
	DataverseRequests int     `json:"dataverse_requests"`
	RequestsPerEnv    float64 `json:"requests_per_environment"`
	Depth             int     `json:"depth"` // D, from a probe of one environment per profile with nothing queued
	LowerBoundSeconds float64 `json:"lower_bound_seconds"`
	Ratio             float64 `json:"ratio"` // wall / lower bound
	MaxInFlight       int     `json:"max_in_flight"`
	MaxInFlightPerEnv int     `json:"max_in_flight_per_environment"`
	Throttled         int     `json:"throttled"`
	Retries           int64   `json:"retries"`
	TokenRequests     int     `json:"token_requests"`
	TokenAudiences    int     `json:"token_audiences"` // (tenant, audience) pairs
	// MaxTokensPerAudience is the most tokens any (tenant, audience) pair was issued: 1 when each token is
	// requested once and reused.
	MaxTokensPerAudience int `json:"max_tokens_per_audience"`
	// FirstRequestSeconds is the time from the scan process's start to its first request.
	FirstRequestSeconds float64 `json:"first_request_seconds"`
	// CollectPeakRSSBytes is the peak RSS of audit collect -o writing the snapshot of every environment.
	CollectPeakRSSBytes int64   `json:"collect_peak_rss_bytes"`
	Connections         int64   `json:"connections"`
	HTTP2Responses      int64   `json:"http2_responses"`
	HTTP1Responses      int64   `json:"http1_responses"`
	PeakRSSBytes        int64   `json:"peak_rss_bytes"`
	AllocBytesPerEnv    float64 `json:"alloc_bytes_per_environment"`
	AllocsPerEnv        float64 `json:"allocs_per_environment"`
	CPUSeconds          float64 `json:"cpu_seconds"` // scan process, user + system, whole command
	EmulatorCPUSeconds  float64 `json:"emulator_cpu_seconds"`

	// The whole command, for context: compiling the policies, evaluating, writing table and JSON.
	LoadPolicySeconds float64 `json:"load_policies_seconds"`
	EvaluateSeconds   float64 `json:"evaluate_seconds"`
	ReportSeconds     float64 `json:"report_seconds"`
	CommandSeconds    float64 `json:"command_seconds"`
}

// SequentialSummary is the same scan at concurrency 1 on a sample, scaled to all environments.
type SequentialSummary struct {
	Environments  int     `json:"environments"`
	WallSeconds   float64 `json:"wall_seconds"`
	ScaledSeconds float64 `json:"scaled_seconds"`
	Speedup       float64 `json:"speedup"`
}

// EvalSummary is evaluation alone on the collected snapshot, against `opa eval` on the same input.
type EvalSummary struct {
	Environments     int     `json:"environments"` // evaluated (environments that could not be read get no evaluation)
	Workers          int     `json:"workers"`
	Runs             int     `json:"runs"`
	TotalSeconds     float64 `json:"total_seconds"` // median of the runs
	PerEnvMS         float64 `json:"per_environment_ms"`
	FastestSeconds   float64 `json:"fastest_seconds"`        // the fastest run, least disturbed by other work
	CPUPerEnvMS      float64 `json:"cpu_per_environment_ms"` // CPU time (all workers) per environment, median
	PrepareSeconds   float64 `json:"prepare_seconds"`        // compiling the policies once
	AllocBytesPerEnv float64 `json:"alloc_bytes_per_environment"`
	AllocsPerEnv     float64 `json:"allocs_per_environment"`

	OPAVersion      string  `json:"opa_version,omitempty"`
	OPAEvalSeconds  float64 `json:"opa_eval_seconds,omitempty"`       // the `opa eval` process, median
	OPAQuerySeconds float64 `json:"opa_eval_query_seconds,omitempty"` // its own timer_rego_query_eval_ns
	OPAResultsMatch bool    `json:"opa_results_match"`
	SpeedupVsOPA    float64 `json:"speedup_vs_opa_eval,omitempty"`
	OPASkipped      string  `json:"opa_skipped,omitempty"`
}

// FixSummary is `audit fix --apply` over generated environments that each need a few fixes.
type FixSummary struct {
	Environments      int     `json:"environments"`
	Steps             int     `json:"steps"`
	Applied           int     `json:"applied"`
	Failed            int     `json:"failed"`
	Concurrency       int     `json:"concurrency"`
	PlanSeconds       float64 `json:"plan_seconds"` // collect, evaluate, plan
	ApplySeconds      float64 `json:"apply_seconds"`
	VerifySeconds     float64 `json:"verify_seconds"` // collect and evaluate the changed environments again
	Requests          int     `json:"apply_requests"`
	Writes            int     `json:"writes"`
	Depth             int     `json:"depth"` // the longest chain of one environment's requests (all are sequential)
	LowerBoundSeconds float64 `json:"lower_bound_seconds"`
	Ratio             float64 `json:"ratio"`
	MaxInFlightPerEnv int     `json:"max_in_flight_per_environment"`
	MaxInFlight       int     `json:"max_in_flight"`
	Throttled         int     `json:"throttled"`
	PeakRSSBytes      int64   `json:"peak_rss_bytes"`
}

// Goal is one target of the issue, checked against this run.
type Goal struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	Value  string `json:"value"`
	Met    bool   `json:"met"`
}

// WriteJSON writes v indented, for results that people diff.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadJSON reads a file written by WriteJSON.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// describeMachine reads the CPU model and memory size (Linux), for the record of where a run came from.
func describeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				m.MemoryMiB = kb >> 10
			}
		}
	}
	return m
}

func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// machineBusySeconds is the CPU time the whole machine has spent outside idle and iowait since boot.
func machineBusySeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		busy += n
	}
	return busy / 100 // USER_HZ
}

// PeakRSS returns this process's peak resident set size (VmHWM) in bytes, or 0 where /proc is missing.
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
