package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// organizationLine is one Dataverse organization in the output of audit emulator serve.
var organizationLine = regexp.MustCompile(`(?m)^    (\S.*?)\s+(https://127\.0\.0\.1:\d+/)  (https://127\.0\.0\.1:\d+/\.default)$`)

// audit emulator serve prints what a scan needs (the authority and BAP) and each organization's own origin, for
// the bundled demo tenant and for a fixture file alike.
func TestEmulatorServePrintsEachOrganizationsOwnOrigin(t *testing.T) {
	t.Parallel()
	for name, tenant := range map[string]string{"bundled": "", "file": demoFixtures[0]} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var stdout bytes.Buffer
			g := &globals{stdin: strings.NewReader(""), stdout: &stdout, stderr: &bytes.Buffer{},
				now: func() time.Time { return testNow }, getenv: func(string) string { return "" }}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // print, then stop at once
			err := runEmulatorServe(ctx, g, emulatorOptions{tenant: tenant, addr: "127.0.0.1:0", caOut: filepath.Join(t.TempDir(), "ca.pem")})
			require.NoError(t, err)
			out := stdout.String()
			assert.Contains(t, out, `Emulator for tenant "contoso" is listening at`)

			main := regexp.MustCompile(`listening at (https://127\.0\.0\.1:\d+)\n`).FindStringSubmatch(out)
			require.NotNil(t, main, out)
			assert.Contains(t, out, "      authority: "+main[1]+"\n")
			assert.Contains(t, out, "      bap: "+main[1]+"\n")

			orgs := organizationLine.FindAllStringSubmatch(out, -1)
			require.Len(t, orgs, 8, "the demo tenant has eight organizations:\n%s", out)
			origins := map[string]string{}
			for _, o := range orgs {
				assert.Equal(t, o[2]+".default", o[3], "%s: the scope is the organization's origin", o[1])
				assert.NotEqual(t, main[1]+"/", o[2], "%s is not served on the main port", o[1])
				assert.Empty(t, origins[o[2]], "%s shares %s with %s", o[1], o[2], origins[o[2]])
				origins[o[2]] = o[1]
			}
			assert.Regexp(t, `(?m)^    Contoso \(default\)\s+\(no Dataverse\)$`, out)
		})
	}
}
