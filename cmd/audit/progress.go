package main

import (
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/work365/audit/internal/collect"
	"github.com/work365/audit/internal/snapshot"
	"github.com/work365/audit/internal/termtext"
)

// progress shows collection on standard error when it is a terminal (and not with --quiet): one line per
// environment as it finishes, with its outcome and how long it took, under a status line that counts the
// environments done, in progress and failed, with the elapsed time. Anywhere else it says nothing, so logs
// and pipes stay clean. Colour only when NO_COLOR is unset.
type progress struct {
	g       *globals
	enabled bool
	color   bool
	width   int
	start   time.Time

	mu                   sync.Mutex
	total                map[string]int
	done, errors, active int
	skipped              int
	status               bool // a status line is on screen
	lastDraw             time.Time
}

func newProgress(g *globals, quiet bool) *progress {
	p := &progress{g: g, enabled: g.stderrTTY && !quiet, color: g.getenv("NO_COLOR") == "", width: 80,
		total: map[string]int{}}
	if g.termWidth > 0 {
		p.width = g.termWidth
	}
	p.start = p.now()
	return p
}

func (p *progress) now() time.Time {
	if p.g.now != nil {
		return p.g.now()
	}
	return time.Now()
}

// Event shows an environment starting or done.
func (p *progress) Event(e collect.Event) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total[e.Tenant] = e.Total
	if !e.Done {
		p.active++
		// Starting environments only change the counts: redraw now and then, not for each of hundreds.
		if time.Since(p.lastDraw) >= 100*time.Millisecond {
			p.drawStatus()
		}
		return
	}
	p.done++
	p.active--
	switch e.Status {
	case snapshot.StatusError:
		p.errors++
	case snapshot.StatusSkipped:
		p.skipped++
	}
	p.clearStatus()
	fmt.Fprintln(p.g.stderr, p.line(e))
	p.drawStatus()
}

// line is one finished environment: "  ✓ Contoso Production (contoso)  read in 0.4s".
func (p *progress) line(e collect.Event) string {
	mark, colour, what := "✓", "\x1b[32m", "read"
	switch e.Status {
	case snapshot.StatusError:
		mark, colour, what = "✗", "\x1b[31m", "could not be read"
	case snapshot.StatusSkipped:
		mark, colour, what = "–", "\x1b[2m", "skipped"
	}
	if p.color {
		mark = colour + mark + "\x1b[0m"
	}
	name := termtext.Clean(e.Environment) + " (" + termtext.Clean(e.Tenant) + ")"
	return fmt.Sprintf("  %s %s  %s in %s", mark, truncate(name, p.width-30), what, e.Elapsed.Round(100*time.Millisecond))
}

func (p *progress) sum() int {
	n := 0
	for _, t := range p.total {
		n += t
	}
	return n
}

func (p *progress) drawStatus() {
	p.lastDraw = time.Now()
	line := fmt.Sprintf("collecting: %d/%d environments, %d in progress, %d could not be read · %s",
		p.done, p.sum(), p.active, p.errors, p.now().Sub(p.start).Round(100*time.Millisecond))
	fmt.Fprint(p.g.stderr, "\r\x1b[2K"+truncate(line, p.width-1))
	p.status = true
}

func (p *progress) clearStatus() {
	if p.status {
		fmt.Fprint(p.g.stderr, "\r\x1b[2K")
		p.status = false
	}
}

// Finish ends the status line.
func (p *progress) Finish() {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearStatus()
	fmt.Fprintf(p.g.stderr, "collected %d environments in %s: %d read, %d skipped, %d could not be read\n",
		p.done, p.now().Sub(p.start).Round(100*time.Millisecond), p.done-p.skipped-p.errors, p.skipped, p.errors)
}

func truncate(s string, n int) string {
	if n < 10 {
		n = 10
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
