package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"
)

// managedIdentityFlow asks the host's managed identity endpoint, which MSAL finds from the environment
// (IDENTITY_ENDPOINT and IDENTITY_HEADER on App Service, Functions and Container Apps; IMDS on VMs).
type managedIdentityFlow struct {
	client managedidentity.Client
}

func newManagedIdentityFlow(cfg Config) (*managedIdentityFlow, error) {
	id := managedidentity.SystemAssigned()
	if cfg.ManagedIdentityClientID != "" {
		id = managedidentity.UserAssignedClientID(cfg.ManagedIdentityClientID)
	}
	var opts []managedidentity.ClientOption
	if cfg.HTTPClient != nil {
		opts = append(opts, managedidentity.WithHTTPClient(cfg.HTTPClient))
	}
	client, err := managedidentity.New(id, opts...)
	if err != nil {
		return nil, fmt.Errorf("create MSAL managed identity client: %w", err)
	}
	return &managedIdentityFlow{client: client}, nil
}

func (f *managedIdentityFlow) acquire(ctx context.Context, scope string, fresh bool) (string, time.Time, error) {
	var opts []managedidentity.AcquireTokenOption
	if fresh {
		// MSAL keeps managed identity tokens in one cache for the whole process, so a new client would not
		// help; a claims request is what makes it skip that cache.
		opts = append(opts, managedidentity.WithClaims(freshClaims()))
	}
	res, err := f.client.AcquireToken(ctx, scope, opts...)
	if err != nil {
		return "", time.Time{}, err
	}
	return res.AccessToken, res.ExpiresOn, nil
}
