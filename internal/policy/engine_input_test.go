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
