package policy

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/work365/audit/internal/snapshot"
)

// viaJSON is the reference conversion: encoding/json, decoded into Go values, converted by OPA.
func viaJSON(t *testing.T, env *snapshot.Environment) ast.Value {
	t.Helper()
	raw, err := json.Marshal(env)
	require.NoError(t, err)
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&v))
	out, err := ast.InterfaceToValue(v)
	require.NoError(t, err)
	return out
}

func TestEnvironmentValueIsTheEnvironmentsJSON(t *testing.T) {
	t.Parallel()
	odd := snapshot.Environment{ID: "x", Name: `Tricky "name" <b>&</b> \ é ✓ ` + "\n\t\u2028", Type: "Sandbox", Status: snapshot.StatusError,
		Error: &snapshot.Error{Stage: "solutions", Message: "HTTP 500: \x01 control", HTTPStatus: 500, Code: "0x80040216"}}
	empty := snapshot.Environment{}
	envs := []*snapshot.Environment{&odd, &empty}
	snap := benchSnapshot(20)
	for i := range snap.Tenants[0].Environments {
		envs = append(envs, &snap.Tenants[0].Environments[i])
	}
	jobs := snap.Tenants[0].Environments[2]
	jobs.Dataverse.FailedJobs.Recent[0].CompletedOn = time.Date(2026, 11, 25, 1, 2, 3, 456, time.FixedZone("x", 3600))
	jobs.Dataverse.FailedJobs.Recent[0].ErrorCode = -2147204784
	envs = append(envs, &jobs)
	for _, env := range envs {
		got, err := environmentValue(env)
		require.NoError(t, err)
		want := viaJSON(t, env)
		assert.Equal(t, 0, ast.Compare(want, got), "environment %q:\nwant %v\ngot  %v", env.Name, want, got)
	}
}

func TestJSONDecoderRefusesMalformedInput(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `{`, `{"a"}`, `{"a":1`, `[1,`, `[1 2]`, `"abc`, `tru`, `{"a":1;}`} {
		d := jsonDecoder{b: []byte(in)}
		_, err := d.value()
		assert.Error(t, err, in)
	}
}

func TestTenantValuesAreTheTenantDocuments(t *testing.T) {
	t.Parallel()
	snap := benchSnapshot(12)
	envs := snap.Tenants[0].Environments
	envs[1].Status, envs[1].SkipReason, envs[1].Dataverse = snapshot.StatusSkipped, "The environment is disabled.", nil
	envs[2].HasDataverse, envs[2].Dataverse = false, nil
	snap.Tenants = append(snap.Tenants, snapshot.Tenant{Name: "empty", ID: "none"})
	eng, err := Load(t.Context(), Options{})
	require.NoError(t, err)
	results, err := eng.Evaluate(t.Context(), snap, nil)
	require.NoError(t, err)
	results[0].Status = StatusWaived
	for _, res := range [][]Result{nil, results} {
		got, err := tenantValues(snap, res)
		require.NoError(t, err)
		docs := tenantDocs(snap, res)
		require.Len(t, got, len(docs))
		for tenant, doc := range docs {
			want, err := ast.InterfaceToValue(doc)
			require.NoError(t, err)
			assert.Equal(t, 0, ast.Compare(want, got[tenant]), "tenant %q with results %t:\nwant %v\ngot  %v", tenant.Name, res != nil, want, got[tenant])
		}
	}
}
