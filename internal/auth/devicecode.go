package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/work365/audit/internal/termtext"
)

// deviceCodeFlow signs an administrator in once with the device code flow of a public client, then gets the
// tokens of further audiences silently with the refresh token MSAL keeps for that account.
type deviceCodeFlow struct {
	client public.Client
	prompt func(message string)

	// signIn holds one token while someone signs in, so that concurrent callers wait for that one sign-in
	// (and can give up with their context) instead of showing a code each.
	signIn  chan struct{}
	account *public.Account // set once signed in; guarded by signIn
}

func newDeviceCodeFlow(cfg Config, host string) (*deviceCodeFlow, error) {
	if cfg.DeviceCodePrompt == nil {
		return nil, errors.New("device code sign-in needs a terminal to show the code on")
	}
	opts := []public.Option{public.WithAuthority(host + "/" + cfg.TenantID), public.WithInstanceDiscovery(false)}
	if cfg.HTTPClient != nil {
		opts = append(opts, public.WithHTTPClient(cfg.HTTPClient))
	}
	client, err := public.New(cfg.ClientID, opts...)
	if err != nil {
		return nil, fmt.Errorf("create MSAL public client: %w", err)
	}
	return &deviceCodeFlow{client: client, prompt: cfg.DeviceCodePrompt, signIn: make(chan struct{}, 1)}, nil
}

func (f *deviceCodeFlow) acquire(ctx context.Context, scope string, fresh bool) (string, time.Time, error) {
	select {
	case f.signIn <- struct{}{}:
	case <-ctx.Done():
		return "", time.Time{}, ctx.Err()
	}
	account := f.account
	if account == nil {
		defer func() { <-f.signIn }()
		return f.signInFor(ctx, scope)
	}
	<-f.signIn
	opts := []public.AcquireSilentOption{public.WithSilentAccount(*account)}
	if fresh {
		// Claims make MSAL skip its cached access token and redeem the refresh token.
		opts = append(opts, public.WithClaims(freshClaims()))
	}
	res, err := f.client.AcquireTokenSilent(ctx, []string{scope}, opts...)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("silent token after sign-in: %w", err)
	}
	return res.AccessToken, res.ExpiresOn, nil
}

// signInFor runs the device code flow for scope; the caller holds signIn.
func (f *deviceCodeFlow) signInFor(ctx context.Context, scope string) (string, time.Time, error) {
	dc, err := f.client.AcquireTokenByDeviceCode(ctx, []string{scope})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("start device code sign-in: %w", err)
	}
	// The message comes from the network and goes to a terminal.
	f.prompt(termtext.Clean(dc.Result.Message))
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("device code sign-in: %w", err)
	}
	f.account = &res.Account
	return res.AccessToken, res.ExpiresOn, nil
}
