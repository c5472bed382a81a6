package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// The browser tests drive a headless Chromium through the Chrome DevTools Protocol with chromedp.

// findChromium returns the Chromium (or Chrome) binary, or "".
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// needChromium returns the Chromium binary. Chromium missing is a skip on a developer's machine and a failure
// in CI, which installs it (.ci/run).
func needChromium(t *testing.T) string {
	t.Helper()
	bin := findChromium()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("Chromium is not installed: .ci/run installs it (apt-get install chromium)")
		}
		t.Skip("Chromium is not installed (apt-get install chromium); CI runs this test")
	}
	return bin
}

// tab is the one tab of a headless Chromium started for a test, with what its pages reported as errors:
// exceptions, console.error calls and the browser's own error messages (a refused script or style, for one).
type tab struct {
	ctx context.Context
	mu  sync.Mutex
	log []string
}

// openTab starts a headless Chromium for the test with a fresh profile, which chromedp creates and removes
// once the browser and its helpers are gone; the test's end stops it.
func openTab(t *testing.T, bin string) *tab {
	t.Helper()
	home := t.TempDir() // HOME and TMPDIR of the browser: it leaves nothing in the user's nor in /tmp
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900), chromedp.Env("HOME="+home, "TMPDIR="+home))
	ctx, cancel := chromedp.NewContext(actx)
	// The whole browser lives under this deadline: a test that hangs ends with an error, never a stuck process.
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	tb := &tab{ctx: ctx}
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error()
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				msg = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				msg = fmt.Sprintf("%s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if msg != "" {
			tb.mu.Lock()
			tb.log = append(tb.log, msg)
			tb.mu.Unlock()
		}
	}), "Chromium must start")
	return tb
}

// errors returns what the pages reported as errors so far.
func (tb *tab) errors() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.log...)
}

// do runs actions on the tab.
func (tb *tab) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	require.NoError(t, chromedp.Do(tb.ctx, steps...))
}

// eval evaluates a JavaScript expression and decodes its value into out (nil: the value is dropped).
func (tb *tab) eval(t *testing.T, expr string, out any) {
	t.Helper()
	raw, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]byte](expr))
	require.NoError(t, err, expr)
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out), expr)
	}
}

// call sends one protocol command.
func call[P, R any](t *testing.T, tb *tab, cmd cdp.Command[P, R], params P) R {
	t.Helper()
	r, err := chromedp.Call(tb.ctx, cmd, params)
	require.NoError(t, err, cmd.Method)
	return r
}

// screenshot captures the viewport as PNG.
func (tb *tab) screenshot(t *testing.T) []byte {
	t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(png), "\x89PNG"))
	return png
}

// reload loads url again from scratch, through about:blank, and waits for it.
func (tb *tab) reload(t *testing.T, url string) {
	t.Helper()
	tb.do(t, chromedp.Navigate("about:blank"), chromedp.Navigate(url))
}
