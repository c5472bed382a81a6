package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/work365/audit/internal/collect"
	"github.com/work365/audit/internal/snapshot"
)

// progress shows collection progress on standard error when it is a terminal; otherwise it stays silent.
type progress struct {
	g       *globals
	enabled bool
	start   time.Time

	mu                   sync.Mutex
	total                map[string]int
	done, errors, active int
	last                 string
	lastDraw             time.Time
}

func newProgress(g *globals, quiet bool) *progress {
	return &progress{g: g, enabled: g.stderrTTY && !quiet, start: time.Now(), total: map[string]int{}}
}

func (p *progress) event(e collect.Event) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total[e.Tenant] = e.Total
	if e.Done {
		p.done++
		p.active--
		if e.Status == snapshot.StatusError {
			p.errors++
		}
	} else {
		p.active++
	}
	p.last = e.Environment
	if time.Since(p.lastDraw) < 100*time.Millisecond && e.Done && p.done < p.sum() {
		return
	}
	p.lastDraw = time.Now()
	p.draw()
}

func (p *progress) sum() int {
	n := 0
	for _, t := range p.total {
		n += t
	}
	return n
}

func (p *progress) draw() {
	line := fmt.Sprintf("collecting: %d/%d environments, %d in progress, %d errors, %s — %s",
		p.done, p.sum(), p.active, p.errors, time.Since(p.start).Round(100*time.Millisecond), p.last)
	if len(line) > 100 {
		line = line[:99] + "…"
	}
	fmt.Fprintf(p.g.stderr, "\r\x1b[2K%s", line)
}

func (p *progress) finish() {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.g.stderr, "\r\x1b[2Kcollected %d environments in %s (%d errors)\n", p.done, time.Since(p.start).Round(100*time.Millisecond), p.errors)
}
