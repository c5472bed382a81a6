package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/work365/audit/internal/policy"
	"github.com/work365/audit/policies"
)

// WriteOPAEval writes what `opa eval` needs to repeat an evaluation of the engine under dir: the embedded
// policies without their tests (policies/), the effective policy data (data.json) and the input (input.json).
func WriteOPAEval(dir string, b *policy.Batch) error {
	pdir := filepath.Join(dir, "policies")
	if err := os.RemoveAll(pdir); err != nil {
		return err
	}
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		src, err := fs.ReadFile(policies.FS, p)
		if err != nil {
			return err
		}
		out := filepath.Join(pdir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, src, 0o644)
	})
	if err != nil {
		return fmt.Errorf("write policies: %w", err)
	}
	for name, v := range map[string]any{"data.json": b.Data, "input.json": b.Input} {
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "query.rego.txt"), []byte(b.Query+"\n"), 0o644)
}

// opaRun is one timed `opa eval`.
type opaRun struct {
	wall, query time.Duration
	statuses    map[string]int
}

// runOPAEval evaluates the files of WriteOPAEval with the opa binary and counts the statuses its decisions
// give, by the engine's reading of them (not applicable before fail before pass).
func runOPAEval(ctx context.Context, opa, dir, query string) (*opaRun, error) {
	cmd := exec.CommandContext(ctx, opa, "eval", "--format", "json", "--metrics",
		"--data", filepath.Join(dir, "policies"), "--data", filepath.Join(dir, "data.json"),
		"--input", filepath.Join(dir, "input.json"), query)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("opa eval: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	out := &opaRun{wall: time.Since(start), statuses: map[string]int{}}
	var doc struct {
		Result []struct {
			Bindings map[string][]map[string]struct {
				Deny []any `json:"deny"`
				NA   []any `json:"na"`
			} `json:"bindings"`
		} `json:"result"`
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		return nil, fmt.Errorf("read opa eval output: %w", err)
	}
	out.query = time.Duration(doc.Metrics["timer_rego_query_eval_ns"])
	if len(doc.Result) != 1 {
		return nil, fmt.Errorf("opa eval gave %d results, want 1: %s", len(doc.Result), strings.TrimSpace(stderr.String()))
	}
	for _, scope := range []string{"environment_scope", "tenant_scope"} {
		for _, env := range doc.Result[0].Bindings[scope] {
			for _, d := range env {
				switch {
				case len(d.NA) > 0:
					out.statuses[string(policy.StatusNotApplicable)]++
				case len(d.Deny) > 0:
					out.statuses[string(policy.StatusFail)]++
				default:
					out.statuses[string(policy.StatusPass)]++
				}
			}
		}
	}
	return out, nil
}

// sameStatuses compares the engine's counts of pass, fail and not applicable with those of opa eval.
func sameStatuses(engine, opa map[string]int) bool {
	for _, s := range []string{string(policy.StatusPass), string(policy.StatusFail), string(policy.StatusNotApplicable)} {
		if engine[s] != opa[s] {
			return false
		}
	}
	return true
}

// opaBinary returns the opa binary to use: the given one, or one built from the OPA module of this build
// (cached in dir while its version matches).
func opaBinary(ctx context.Context, given, dir string) (path, version string, err error) {
	if given != "" {
		return given, opaVersion(ctx, given), nil
	}
	path = filepath.Join(dir, "opa")
	want := moduleVersion("github.com/open-policy-agent/opa")
	if v := opaVersion(ctx, path); v != "" && (want == "" || "v"+v == want) {
		return path, v, nil
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", path, "github.com/open-policy-agent/opa")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("build opa (go build github.com/open-policy-agent/opa): %w: %s", err, strings.TrimSpace(string(out)))
	}
	return path, opaVersion(ctx, path), nil
}

func opaVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Version: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
