package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/work365/audit/internal/report"
)

// maxListed bounds the entries a chat message lists per section; the rest are counted.
const maxListed = 15

func payload(kind string, m Message, v view) ([]byte, error) {
	var body any
	switch kind {
	case "webhook":
		body = webhookBody(m, v)
	case "teams":
		body = teamsBody(m, v)
	case "slack":
		body = slackBody(m, v)
	default:
		return nil, fmt.Errorf("unknown notification type %q", kind)
	}
	return json.Marshal(body)
}

// headline is the notification's first line: what happened, in counts.
func headline(v view) string {
	var parts []string
	if n := len(v.newFailures); n > 0 {
		parts = append(parts, count(n, "new failure", "new failures"))
	}
	if n := len(v.resolved); n > 0 {
		parts = append(parts, count(n, "failure resolved", "failures resolved"))
	}
	if n := len(v.inventory); n > 0 {
		parts = append(parts, count(n, "inventory change", "inventory changes"))
	}
	return "Work 365 audit: " + strings.Join(parts, ", ")
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func contextLine(m Message) string {
	s := "Tenants " + strings.Join(m.Tenants, ", ")
	if len(m.Tenants) == 1 {
		s = "Tenant " + m.Tenants[0]
	}
	s += " · scanned " + m.At.UTC().Format("2 Jan 2006 15:04 UTC")
	if m.RunID > 0 {
		s += fmt.Sprintf(" · run %d", m.RunID)
	}
	if m.Drift != nil {
		s += " · compared with " + m.Drift.Baseline.Describe()
	}
	return s
}

func resultLine(r report.DriftResult, now time.Time, resolved bool) string {
	s := fmt.Sprintf("%s · %s · %s (%s)", r.Environment, r.RuleID, r.Title, r.Severity)
	if resolved {
		s += fmt.Sprintf(" — now %s, failing for %s", strings.ReplaceAll(string(r.Status), "_", " "), report.Age(r.FirstSeen, now))
	}
	return s
}

// webhookBody is the generic JSON: the drift entries the target asked for, as the JSON report writes them.
func webhookBody(m Message, v view) map[string]any {
	body := map[string]any{
		"source":     "audit",
		"text":       headline(v),
		"verdict":    m.Verdict,
		"run_id":     m.RunID,
		"tenants":    m.Tenants,
		"scanned_at": m.At.UTC(),
		"events":     v.events,
	}
	if m.Drift != nil {
		body["baseline"] = m.Drift.Baseline
	}
	for _, e := range v.events {
		switch e {
		case EventNewFailures:
			body["new_failures"] = v.newFailures
		case EventResolved:
			body["resolved"] = v.resolved
		case EventInventory:
			body["inventory"] = v.inventory
		}
	}
	return body
}

// teamsBody is a message with one Adaptive Card (schema 1.4), the form Teams workflows and incoming
// webhooks accept.
func teamsBody(m Message, v view) map[string]any {
	text := func(s string, extra map[string]any) map[string]any {
		b := map[string]any{"type": "TextBlock", "text": teamsText(s), "wrap": true}
		for k, x := range extra {
			b[k] = x
		}
		return b
	}
	body := []any{
		text(headline(v), map[string]any{"size": "Large", "weight": "Bolder"}),
		text(contextLine(m), map[string]any{"isSubtle": true, "spacing": "None"}),
	}
	if m.Verdict != "" {
		body = append(body, text(m.Verdict, nil))
	}
	section := func(title string, lines []string) {
		body = append(body, text(title, map[string]any{"weight": "Bolder", "separator": true}))
		for i, l := range lines {
			if i == maxListed {
				body = append(body, text(fmt.Sprintf("… and %d more (see the report)", len(lines)-maxListed), map[string]any{"isSubtle": true}))
				break
			}
			body = append(body, text("- "+l, map[string]any{"spacing": "None"}))
		}
	}
	for _, e := range v.events {
		switch e {
		case EventNewFailures:
			section("New failures", lines(v.newFailures, m.At, false))
		case EventResolved:
			section("Resolved", lines(v.resolved, m.At, true))
		case EventInventory:
			section("Inventory changes", changeLines(v.inventory))
		}
	}
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"msteams": map[string]any{"width": "Full"},
		"body":    body,
	}
	return map[string]any{"type": "message", "attachments": []any{map[string]any{
		"contentType": "application/vnd.microsoft.card.adaptive",
		"contentUrl":  nil,
		"content":     card,
	}}}
}

// slackBody is a Block Kit message with a plain-text fallback.
func slackBody(m Message, v view) map[string]any {
	blocks := []any{
		map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": truncate(headline(v), 150)}},
		map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": slackText(contextLine(m))}}},
	}
	if m.Verdict != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": slackText(m.Verdict)}})
	}
	section := func(title string, ls []string) {
		var b strings.Builder
		b.WriteString("*" + title + "*")
		for i, l := range ls {
			if i == maxListed {
				fmt.Fprintf(&b, "\n… and %d more (see the report)", len(ls)-maxListed)
				break
			}
			b.WriteString("\n• " + slackText(l))
		}
		blocks = append(blocks, map[string]any{"type": "divider"},
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": truncate(b.String(), 3000)}})
	}
	for _, e := range v.events {
		switch e {
		case EventNewFailures:
			section("New failures", lines(v.newFailures, m.At, false))
		case EventResolved:
			section("Resolved", lines(v.resolved, m.At, true))
		case EventInventory:
			section("Inventory changes", changeLines(v.inventory))
		}
	}
	return map[string]any{"text": headline(v), "blocks": blocks}
}

func lines(rs []report.DriftResult, now time.Time, resolved bool) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = resultLine(r, now, resolved)
	}
	return out
}

func changeLines(cs []report.InventoryChange) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Environment + ": " + c.Describe()
	}
	return out
}

// slackText escapes the three characters Slack's mrkdwn gives meaning to, so that names stay text.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackText(s string) string { return slackEscaper.Replace(s) }

// teamsText escapes the Markdown an Adaptive Card's TextBlock reads, so that names stay text.
var teamsEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "`", "\\`", "#", `\#`, "<", "&lt;", ">", "&gt;")

func teamsText(s string) string { return teamsEscaper.Replace(s) }

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
