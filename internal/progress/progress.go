// Package progress shows a collection on a terminal: one line per environment as it finishes, under a status
// line that counts the environments done, in progress and failed.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/work365/audit/internal/collect"
	"github.com/work365/audit/internal/snapshot"
	"github.com/work365/audit/internal/termtext"
)

// Progress shows collection on a terminal (standard error, when it is one and the run is not quiet): one line
// per environment as it finishes, with its outcome and how long it took, under a status line that counts the
// environments done, in progress and failed, with the elapsed time. Disabled, it says nothing, so logs and
// pipes stay clean.
type Progress struct {
	w       io.Writer
	now     func() time.Time
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

// Options say where and how to show progress.
type Options struct {
	Enabled bool // standard error is a terminal and the run is not quiet
	Color   bool // NO_COLOR is unset
	Width   int  // the terminal's width; 0 means 80
	Now     func() time.Time
}

// New returns a Progress writing to w.
func New(w io.Writer, o Options) *Progress {
	p := &Progress{w: w, now: o.Now, enabled: o.Enabled, color: o.Color, width: 80, total: map[string]int{}}
	if o.Width > 0 {
		p.width = o.Width
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.start = p.now()
	return p
}

// Event shows an environment starting or done.
func (p *Progress) Event(e collect.Event) {
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
	fmt.Fprintln(p.w, p.line(e))
	p.drawStatus()
}

// line is one finished environment: "  ✓ Contoso Production (contoso)  read in 0.4s".
func (p *Progress) line(e collect.Event) string {
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

func (p *Progress) sum() int {
	n := 0
	for _, t := range p.total {
		n += t
	}
	return n
}

func (p *Progress) drawStatus() {
	p.lastDraw = time.Now()
	line := fmt.Sprintf("collecting: %d/%d environments, %d in progress, %d could not be read · %s",
		p.done, p.sum(), p.active, p.errors, p.now().Sub(p.start).Round(100*time.Millisecond))
	fmt.Fprint(p.w, "\r\x1b[2K"+truncate(line, p.width-1))
	p.status = true
}

func (p *Progress) clearStatus() {
	if p.status {
		fmt.Fprint(p.w, "\r\x1b[2K")
		p.status = false
	}
}

// Finish ends the status line.
func (p *Progress) Finish() {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearStatus()
	fmt.Fprintf(p.w, "collected %d environments in %s: %d read, %d skipped, %d could not be read\n",
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
