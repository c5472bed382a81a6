package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// History holds the defaults of scan --history and --keep.
type History struct {
	Path     string `yaml:"path"`      // the SQLite file; relative to the config file's directory
	Keep     int    `yaml:"keep"`      // keep the newest N runs (0: all)
	KeepDays int    `yaml:"keep_days"` // keep runs of the last N days (0: any age)

	Line int `yaml:"-"`
}

// Notify is a notification target: where to say that a scan found new failures or resolved ones.
type Notify struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"` // webhook (generic JSON), teams (Adaptive Card), slack (Block Kit)
	// URLEnv names the environment variable holding the webhook URL: webhook URLs are secrets, so they are
	// never in the file.
	URLEnv      string   `yaml:"url_env"`
	On          []string `yaml:"on"`           // new_failures, resolved, inventory; default new_failures and resolved
	MinSeverity string   `yaml:"min_severity"` // only failures at or above it count; default low
	Timeout     Duration `yaml:"timeout"`      // per attempt; default 10s
	Retries     *int     `yaml:"retries"`      // further attempts after a failed one; default 3
	// AllowPrivateTargets lets the URL reach a loopback, private or link-local address (an internal relay);
	// without it such targets are refused.
	AllowPrivateTargets bool `yaml:"allow_private_targets"`

	Line int `yaml:"-"`
}

// Notification types and events.
var (
	NotifyTypes  = []string{"webhook", "teams", "slack"}
	NotifyEvents = []string{"new_failures", "resolved", "inventory"}
)

// Notification defaults.
const (
	DefaultNotifyTimeout = 10 * time.Second
	DefaultNotifyRetries = 3
	maxNotifyRetries     = 10
)

var (
	envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	severities = []string{"critical", "high", "medium", "low"}
)

// HistoryPath is history.path resolved against the config file's directory ("" when not set).
func (c *Config) HistoryPath() string { return c.resolve(c.History.Path) }

// Events returns the events the target is sent for.
func (n Notify) Events() []string {
	if len(n.On) == 0 {
		return []string{"new_failures", "resolved"}
	}
	out := make([]string, len(n.On))
	for i, e := range n.On {
		out[i] = strings.ToLower(e)
	}
	return out
}

// Severity returns the lowest severity the target counts.
func (n Notify) Severity() string {
	if n.MinSeverity == "" {
		return "low"
	}
	return strings.ToLower(n.MinSeverity)
}

// AttemptTimeout returns the timeout of one attempt.
func (n Notify) AttemptTimeout() time.Duration {
	if n.Timeout <= 0 {
		return DefaultNotifyTimeout
	}
	return time.Duration(n.Timeout)
}

// RetryCount returns how many times a failed attempt is tried again.
func (n Notify) RetryCount() int {
	if n.Retries == nil {
		return DefaultNotifyRetries
	}
	return *n.Retries
}

func notifySection(goType string) string {
	if goType == "History" {
		return "history (known: path, keep, keep_days)"
	}
	return "a notify target (known: name, type, url_env, on, min_severity, timeout, retries; the webhook URL itself never goes in the file: name the environment variable that holds it with url_env)"
}

func (c *Config) validateNotify(add func(line int, format string, args ...any)) {
	if c.History.Keep < 0 || c.History.KeepDays < 0 {
		add(c.History.Line, "history: keep and keep_days count runs and days: use 0 (keep everything) or more")
	}
	names := map[string]int{}
	for i, n := range c.Notify {
		label := fmt.Sprintf("notify target %d", i+1)
		if n.Name == "" {
			add(n.Line, "%s has no name", label)
		} else {
			label = fmt.Sprintf("notify target %q", n.Name)
			if prev, dup := names[n.Name]; dup {
				add(n.Line, "%s: the name is used twice (first at line %d)", label, prev)
			}
			names[n.Name] = n.Line
		}
		if !oneOf(strings.ToLower(n.Type), NotifyTypes) {
			add(n.Line, "%s: type %q: use one of %s", label, n.Type, strings.Join(NotifyTypes, ", "))
		}
		switch {
		case n.URLEnv == "":
			add(n.Line, "%s has no url_env: name the environment variable that holds the webhook URL (URLs are secrets and never go in the file)", label)
		case strings.Contains(n.URLEnv, "://"):
			add(n.Line, "%s: url_env must name an environment variable, not hold the URL: webhook URLs are secrets and never go in the file", label)
		case !envVarName.MatchString(n.URLEnv):
			add(n.Line, "%s: url_env %q is not an environment variable name", label, n.URLEnv)
		}
		for _, e := range n.On {
			if !oneOf(strings.ToLower(e), NotifyEvents) {
				add(n.Line, "%s: on %q: use any of %s", label, e, strings.Join(NotifyEvents, ", "))
			}
		}
		if n.MinSeverity != "" && !oneOf(strings.ToLower(n.MinSeverity), severities) {
			add(n.Line, "%s: min_severity %q: use one of %s", label, n.MinSeverity, strings.Join(severities, ", "))
		}
		if n.Timeout < 0 {
			add(n.Line, "%s: timeout must be positive", label)
		}
		if r := n.Retries; r != nil && (*r < 0 || *r > maxNotifyRetries) {
			add(n.Line, "%s: retries is %d: use 0 to %d", label, *r, maxNotifyRetries)
		}
	}
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}
