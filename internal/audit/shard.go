package audit

import (
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/work365/audit/internal/config"
	"github.com/work365/audit/internal/history"
	"github.com/work365/audit/internal/report"
)

// Shard is --shard INDEX/COUNT: a run that covers the tenants falling in part INDEX of COUNT. The zero value
// covers everything. It is a flag value (pflag.Value).
type Shard struct{ Index, Count int }

func (s *Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Set parses INDEX/COUNT.
func (s *Shard) Set(v string) error {
	a, b, ok := strings.Cut(v, "/")
	i, errI := strconv.Atoi(strings.TrimSpace(a))
	n, errN := strconv.Atoi(strings.TrimSpace(b))
	if !ok || errI != nil || errN != nil || n < 1 || i < 1 || i > n {
		return fmt.Errorf("%q is not INDEX/COUNT with 1 ≤ INDEX ≤ COUNT (for example 2/4)", v)
	}
	s.Index, s.Count = i, n
	return nil
}

// Type names the value in the help.
func (s *Shard) Type() string { return "INDEX/COUNT" }

// Part says in which part of count a tenant falls: rendezvous hashing of its name, so that every tenant is in
// exactly one part, the same one at every run, and adding or removing a tenant moves no other tenant.
func Part(tenant string, count int) int {
	best, bestScore := 1, uint64(0)
	for i := 1; i <= count; i++ {
		h := fnv.New64a()
		_, _ = io.WriteString(h, strings.ToLower(tenant)+"\x00"+strconv.Itoa(i))
		if score := mix(h.Sum64()); i == 1 || score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

// mix is SplitMix64's finaliser: FNV-1a of strings that differ only in their last bytes (the part number)
// differs mostly in its low bits, which would send most tenants to the same parts; mixed, every bit counts.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Apply keeps the config's tenants of this part and returns how many there were. Tenants are never split:
// GOV.1 and the sandbox-first rule of fixes judge a tenant by all its environments, so a part holds whole
// tenants and its results are final.
func (s Shard) Apply(cfg *config.Config) (all int) {
	all = len(cfg.Tenants)
	if s.Count == 0 {
		return all
	}
	var keep []config.Tenant
	for _, t := range cfg.Tenants {
		if Part(t.Name, s.Count) == s.Index {
			keep = append(keep, t)
		}
	}
	cfg.Tenants = keep
	return all
}

// Mark records the part on the report, for audit merge.
func (s Shard) Mark(r *report.Report) {
	if s.Count > 0 {
		r.Shard = &report.Shard{Index: s.Index, Count: s.Count}
	}
}

// Scope names what a run covers, so that a run is compared with the previous run of the same scope: a
// shard with the same shard, a scan of some environments with one of the same environments.
func Scope(s Shard, envs []string) string {
	var parts []string
	if s.Count > 0 {
		parts = append(parts, "shard="+s.String())
	}
	if len(envs) > 0 {
		sorted := append([]string(nil), envs...)
		sort.Strings(sorted)
		parts = append(parts, "env="+strings.Join(sorted, ","))
	}
	return strings.Join(parts, " ")
}

// ParseKeep reads --keep: a number of runs (50) or of days (30d).
func ParseKeep(s string) (history.Retention, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 {
			return history.Retention{}, Usagef("--keep %q: use a number of runs (50) or of days (30d)", s)
		}
		return history.Retention{MaxAge: time.Duration(n) * 24 * time.Hour}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return history.Retention{}, Usagef("--keep %q: use a number of runs (50) or of days (30d)", s)
	}
	return history.Retention{Keep: n}, nil
}
