package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file drives a headless Chromium through the Chrome DevTools Protocol, over a minimal websocket client
// (RFC 6455: a client handshake, masked frames out, unmasked frames in), so that the browser test needs no
// dependency beyond the standard library.

// findChromium returns the Chromium (or Chrome) binary, or "".
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is a running headless Chromium.
type browser struct {
	cmd *exec.Cmd
	ws  string // the browser's DevTools websocket URL
}

var devtoolsLine = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// startChromium starts a headless Chromium with a fresh profile and returns once DevTools listens.
func startChromium(t *testing.T, bin string) (*browser, error) {
	t.Helper()
	// The profile is removed once the browser and its helpers are gone, not by t.TempDir's cleanup, which
	// could run while a helper still writes to it.
	profile, err := os.MkdirTemp("", "audit-chromium-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--user-data-dir="+profile,
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--window-size=1280,900", "about:blank")
	cmd.Env = append(os.Environ(), "HOME="+profile)
	ownProcessGroup(cmd)
	removeProfile := func() {
		// Helpers killed with the group may take a moment to go.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("remove the browser profile %s: %v", profile, os.RemoveAll(profile))
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		removeProfile()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		removeProfile()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	b := &browser{cmd: cmd}
	t.Cleanup(func() {
		killGroup(cmd)
		_ = cmd.Wait()
		removeProfile()
	})
	found := make(chan string, 1)
	var log strings.Builder
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			log.WriteString(line + "\n")
			mu.Unlock()
			if m := devtoolsLine.FindStringSubmatch(line); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case ws, ok := <-found:
		if !ok {
			mu.Lock()
			defer mu.Unlock()
			return nil, fmt.Errorf("chromium exited before DevTools listened:\n%s", log.String())
		}
		b.ws = ws
		return b, nil
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("chromium did not start DevTools within 60s:\n%s", log.String())
	}
}

// page opens a DevTools session on the browser's first page.
func (b *browser) page(ctx context.Context) (*cdp, error) {
	u, err := url.Parse(b.ws)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+u.Host+"/json/list", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	defer resp.Body.Close()
	var targets []struct {
		Type string `json:"type"`
		WS   string `json:"webSocketDebuggerUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&targets); err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	for _, tg := range targets {
		if tg.Type == "page" && tg.WS != "" {
			return dialCDP(ctx, tg.WS)
		}
	}
	return nil, errors.New("no page target")
}

// cdp is one DevTools websocket connection: numbered calls, answered by id; events are dropped.
type cdp struct {
	conn    net.Conn
	r       *bufio.Reader
	wmu     sync.Mutex
	mu      sync.Mutex
	next    int
	pending map[int]chan cdpAnswer
	done    chan struct{}
	err     error
}

type cdpAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func dialCDP(ctx context.Context, wsURL string) (*cdp, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	k := base64.StdEncoding.EncodeToString(key)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		u.RequestURI(), u.Host, k)
	r := bufio.NewReaderSize(conn, 1<<16)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	sum := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	c := &cdp{conn: conn, r: r, pending: map[int]chan cdpAnswer{}, done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *cdp) Close() error { return c.conn.Close() }

// writeFrame sends one masked frame (clients must mask).
func (c *cdp) writeFrame(opcode byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	head := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		head = append(head, 0x80|byte(n))
	case n <= 0xFFFF:
		head = append(head, 0x80|126, byte(n>>8), byte(n))
	default:
		head = append(head, 0x80|127)
		head = binary.BigEndian.AppendUint64(head, uint64(n))
	}
	mask := make([]byte, 4)
	_, _ = rand.Read(mask)
	head = append(head, mask...)
	body := make([]byte, len(payload))
	for i, b := range payload {
		body[i] = b ^ mask[i%4]
	}
	_, err := c.conn.Write(append(head, body...))
	return err
}

// readMessage reads one whole message, answering pings and joining continuation frames.
func (c *cdp) readMessage() ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			return nil, err
		}
		fin, opcode := h[0]&0x80 != 0, h[0]&0x0F
		n := uint64(h[1] & 0x7F)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(c.r, b[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(c.r, b[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		var mask []byte
		if h[1]&0x80 != 0 {
			mask = make([]byte, 4)
			if _, err := io.ReadFull(c.r, mask); err != nil {
				return nil, err
			}
		}
		if n > 256<<20 {
			return nil, fmt.Errorf("websocket frame of %d bytes", n)
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.r, payload); err != nil {
			return nil, err
		}
		if mask != nil {
			for i := range payload {
				payload[i] ^= mask[i%4]
			}
		}
		switch opcode {
		case 0x8:
			return nil, io.EOF
		case 0x9:
			if err := c.writeFrame(0xA, payload); err != nil {
				return nil, err
			}
			continue
		case 0xA:
			continue
		}
		msg = append(msg, payload...)
		if fin {
			return msg, nil
		}
	}
}

func (c *cdp) readLoop() {
	defer close(c.done)
	for {
		msg, err := c.readMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var m struct {
			ID int `json:"id"`
			cdpAnswer
		}
		if json.Unmarshal(msg, &m) != nil || m.ID == 0 {
			continue // an event
		}
		c.mu.Lock()
		ch := c.pending[m.ID]
		delete(c.pending, m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m.cdpAnswer
		}
	}
}

// call sends a command and decodes its result into out (when not nil).
func (c *cdp) call(ctx context.Context, method string, params any, out any) error {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return c.err
	}
	c.next++
	id := c.next
	ch := make(chan cdpAnswer, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	if params == nil {
		params = map[string]any{}
	}
	body, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return err
	}
	if err := c.writeFrame(0x1, body); err != nil {
		return err
	}
	select {
	case a := <-ch:
		if a.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, a.Error.Message, a.Error.Code)
		}
		if out != nil {
			return json.Unmarshal(a.Result, out)
		}
		return nil
	case <-c.done:
		return fmt.Errorf("%s: connection closed: %v", method, c.err)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// eval runs JavaScript in the page and decodes its (JSON-serialisable) value into out.
func (c *cdp) eval(ctx context.Context, expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := c.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res)
	if err != nil {
		return err
	}
	if res.Exception != nil {
		return fmt.Errorf("javascript: %s %s", res.Exception.Text, res.Exception.Exception.Description)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(res.Result.Value, out)
}

// load navigates to url and waits until the document is complete.
func (c *cdp) load(ctx context.Context, url string) error {
	if err := c.call(ctx, "Page.navigate", map[string]any{"url": url}, nil); err != nil {
		return err
	}
	for {
		var state, href string
		if err := c.eval(ctx, "document.readyState", &state); err == nil {
			_ = c.eval(ctx, "location.href", &href)
			if state == "complete" && href == url {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("load %s: %w", url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
