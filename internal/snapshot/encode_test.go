package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wholeEncoding is the snapshot encoded in one piece, as Encode wrote it before it streamed.
func wholeEncoding(t *testing.T, s *Snapshot) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(s))
	return buf.Bytes()
}

// demoFile is the snapshot of the demo tenants as audit collect -o saved it before snapshots were streamed.
const demoFile = "testdata/demo.json"

func loadDemo(t *testing.T) *Snapshot {
	t.Helper()
	s, err := Load(demoFile)
	require.NoError(t, err)
	return s
}

// generated is a snapshot shaped like a collector's before Sort: tenants and environments in list order (names
// repeated, some with the same name and ID), lists inside environments unsorted, text that JSON escapes, a
// tenant that could not be listed and one with no environment in scope. The same seed gives the same snapshot.
func generated(seed uint64, tenants, environments int) *Snapshot {
	rng := rand.New(rand.NewPCG(seed, 1))
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := &Snapshot{SchemaVersion: SchemaVersion, Tool: Tool{Name: "audit", Version: "1.2.3"}, CollectedAt: at,
		Settings: Settings{SolutionName: "Work365", AppIDs: map[string]string{"US": "e4b1a995", "EU": "5e56ae97"},
			RoleNames: []string{"Work 365 Service"}, LookbackDays: 7, SettingsTable: "w365_configuration", ServiceUserLookup: "w365_serviceuserid"}}
	names := []string{"Prod", "Dev <&> \"q\"", "Trial ☃", "Prod", "Sandbox\u2028x", "Prod"}
	for ti := range tenants {
		t := Tenant{Name: []string{"contoso", "fabrikam", "<north&wind>", "contoso"}[ti%4], ID: fmt.Sprintf("t-%d", ti), Cloud: "public",
			Environments: []Environment{}}
		switch ti % 5 {
		case 3:
			t.Error = &Error{Stage: "environments", Message: "HTTP 403 <forbidden>", HTTPStatus: 403}
			s.Tenants = append(s.Tenants, t)
			continue
		case 4:
			t.Environments = nil // none in scope
			s.Tenants = append(s.Tenants, t)
			continue
		}
		for ei := range environments {
			id := fmt.Sprintf("%08x-env", rng.IntN(environments*2)) // some IDs repeat
			e := Environment{ID: id, Name: names[rng.IntN(len(names))], Type: "Production", Region: "unitedstates",
				InstanceURL: fmt.Sprintf("https://org%d.crm.dynamics.com/", ei), HasDataverse: true, Status: StatusOK}
			switch ei % 7 {
			case 5:
				e.Status, e.HasDataverse, e.SkipReason = StatusSkipped, false, "no Dataverse"
				t.Environments = append(t.Environments, e)
				continue
			case 6:
				e.Status, e.Error = StatusError, &Error{Stage: "systemusers", Message: "HTTP 500 & more", HTTPStatus: 500}
				t.Environments = append(t.Environments, e)
				continue
			}
			dv := &Dataverse{OrganizationID: "org", Work365: Solution{Installed: true, Version: "3.6.0.0", MatchedBy: MatchUniqueName},
				ServiceUser: ServiceUser{Configured: true, UserID: "u0"},
				FailedJobs:  FailedJobs{LookbackDays: 7, Since: at.AddDate(0, 0, -7), Recent: []Job{}}}
			for u := range 2 + rng.IntN(6) {
				user := User{ID: fmt.Sprintf("u%d", rng.IntN(9)), FullName: fmt.Sprintf("User <%d>", rng.IntN(4)), ApplicationID: "e4b1a995"}
				for range rng.IntN(4) {
					r := Role{ID: fmt.Sprintf("r%d", rng.IntN(3)), Name: []string{"Work 365 Service", "Basic User"}[rng.IntN(2)]}
					if rng.IntN(3) == 0 {
						r.Team = &Team{ID: fmt.Sprintf("t%d", rng.IntN(3)), Name: "Ops & co"}
					}
					user.Roles = append(user.Roles, r)
				}
				if user.Roles == nil {
					user.Roles = []Role{}
				}
				dv.ApplicationUsers = append(dv.ApplicationUsers, user)
				if u == 0 {
					su := user
					su.Roles = append([]Role(nil), user.Roles...)
					dv.ServiceUser.User = &su
				}
			}
			dv.ServiceRoleHolders = []User{}
			for range rng.IntN(4) {
				dv.Flows = append(dv.Flows, Flow{ID: fmt.Sprintf("f%d", rng.IntN(5)), Name: fmt.Sprintf("Flow %d", rng.IntN(3)),
					Owner: Owner{ID: "o", Name: "Pat </script>", Disabled: true}})
				dv.ConnectionReferences = append(dv.ConnectionReferences, ConnectionReference{ID: fmt.Sprintf("c%d", rng.IntN(5)),
					LogicalName: fmt.Sprintf("cr%d", rng.IntN(3))})
				dv.EmailTemplates = append(dv.EmailTemplates, EmailTemplate{ID: fmt.Sprintf("m%d", rng.IntN(5)), Title: fmt.Sprintf("T%d", rng.IntN(3))})
				dv.FailedJobs.Recent = append(dv.FailedJobs.Recent, Job{ID: "j", Name: "Sync", CreatedOn: at.Add(-time.Hour)})
				dv.FailedJobs.Count++
			}
			e.Dataverse = dv
			t.Environments = append(t.Environments, e)
		}
		s.Tenants = append(s.Tenants, t)
	}
	return s
}

func TestEncodeWritesWhatJSONEncoderWrites(t *testing.T) {
	t.Parallel()
	demoBytes, err := os.ReadFile(demoFile)
	require.NoError(t, err)
	cases := map[string]*Snapshot{
		"demo":       loadDemo(t),
		"generated":  generated(1, 6, 40),
		"unsorted":   generated(2, 4, 10),
		"no tenants": {SchemaVersion: SchemaVersion, Tenants: []Tenant{}},
		"nil":        {},
		"empty":      {Tenants: []Tenant{{Name: "a"}, {Name: "b", Environments: []Environment{}}}},
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if name == "generated" {
				s.Sort()
			}
			var buf bytes.Buffer
			require.NoError(t, Encode(&buf, s))
			assert.Equal(t, string(wholeEncoding(t, s)), buf.String())
			if name == "demo" {
				assert.Equal(t, string(demoBytes), buf.String(), "the demo snapshot as audit collect saved it")
			}
		})
	}
}

func TestSaveWritesTheDemoSnapshotAsBefore(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile(demoFile)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "snapshot.json")
	require.NoError(t, Save(p, loadDemo(t)))
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

func TestWritePrivateLeavesTheFileAsItWasWhenWritingFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "report.json")
	require.NoError(t, os.WriteFile(p, []byte("earlier"), 0o600))
	err := WritePrivate(p, func(w io.Writer) error {
		_, _ = w.Write(bytes.Repeat([]byte("x"), 200<<10)) // past the buffer: part of it reached the disk
		return errors.New("disk full")
	})
	require.EqualError(t, err, "disk full")
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "earlier", string(got))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left")
}
