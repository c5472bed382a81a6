package snapshot

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// addShuffled adds the environments of s to w in a random order from several goroutines, at their places in
// the tenant lists of s.
func addShuffled(t *testing.T, w *Writer, s *Snapshot, seed uint64) {
	t.Helper()
	type place struct{ tenant, index int }
	var places []place
	for ti := range s.Tenants {
		for ei := range s.Tenants[ti].Environments {
			places = append(places, place{ti, ei})
		}
	}
	rand.New(rand.NewPCG(seed, 2)).Shuffle(len(places), func(i, j int) { places[i], places[j] = places[j], places[i] })
	var wg sync.WaitGroup
	work := make(chan place)
	errs := make(chan error, len(places))
	for range 4 {
		wg.Go(func() {
			for p := range work {
				errs <- w.Add(p.tenant, p.index, &s.Tenants[p.tenant].Environments[p.index])
			}
		})
	}
	for _, p := range places {
		work <- p
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// withoutEnvironments is s's header and tenants, as Close takes them: environments left out, nil kept nil.
func withoutEnvironments(s *Snapshot) *Snapshot {
	out := *s
	out.Tenants = make([]Tenant, len(s.Tenants))
	for i, t := range s.Tenants {
		if t.Environments != nil {
			t.Environments = []Environment{}
		}
		out.Tenants[i] = t
	}
	return &out
}

func TestTheWriterWritesWhatSaveWritesForTheSortedSnapshot(t *testing.T) {
	t.Parallel()
	cases := map[string]func() *Snapshot{
		"demo":      func() *Snapshot { return loadDemo(t) },
		"generated": func() *Snapshot { return generated(3, 7, 60) },
		"small":     func() *Snapshot { return generated(4, 2, 3) },
		"none":      func() *Snapshot { return &Snapshot{SchemaVersion: SchemaVersion, Tenants: []Tenant{}} },
	}
	for name, build := range cases {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("%s/%d", name, seed), func(t *testing.T) {
				t.Parallel()
				want := build()
				want.Sort()
				dir := t.TempDir()
				p := filepath.Join(dir, "snapshot.json")
				require.NoError(t, Save(p, want))
				wantBytes, err := os.ReadFile(p)
				require.NoError(t, err)
				require.Equal(t, string(wholeEncoding(t, want)), string(wantBytes))

				s := build() // unsorted, as collected
				w, err := NewWriter(filepath.Join(dir, "streamed.json"))
				require.NoError(t, err)
				addShuffled(t, w, s, seed)
				require.NoError(t, w.Close(withoutEnvironments(s)))
				got, err := os.ReadFile(filepath.Join(dir, "streamed.json"))
				require.NoError(t, err)
				assert.Equal(t, string(wantBytes), string(got))

				entries, err := os.ReadDir(dir)
				require.NoError(t, err)
				assert.Len(t, entries, 2, "the snapshot and Save's file, no spool or temporary file")
				st, err := os.Stat(filepath.Join(dir, "streamed.json"))
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
			})
		}
	}
}

func TestAWriterNeverClosedLeavesNoFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "snapshot.json")
	w, err := NewWriter(p)
	require.NoError(t, err)
	s := generated(5, 2, 5)
	addShuffled(t, w, s, 0)
	_, err = os.Stat(p)
	assert.True(t, os.IsNotExist(err), "no snapshot before Close")
	if runtime.GOOS != "windows" {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Empty(t, entries, "the spool is already out of the directory: it goes with the process")
	}
	w.Abort()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
	assert.ErrorIs(t, w.Add(0, 0, &Environment{}), ErrWriterClosed)
	assert.ErrorIs(t, w.Close(withoutEnvironments(s)), ErrWriterClosed)
}

func TestTheWriterRefusesWhatItCannotPlace(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		tenants []Tenant
		add     int
		want    string
	}{
		"tenant out of range":          {tenants: []Tenant{{Name: "a"}}, add: 1, want: "added to tenant 1 of 1"},
		"environments given to Close":  {tenants: []Tenant{{Name: "a", Environments: []Environment{{ID: "x"}}}}, want: "add them with Add"},
		"negative tenant out of range": {tenants: []Tenant{{Name: "a"}}, add: -1, want: "added to tenant -1 of 1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := filepath.Join(dir, "snapshot.json")
			require.NoError(t, os.WriteFile(p, []byte("before"), 0o600))
			w, err := NewWriter(p)
			require.NoError(t, err)
			require.NoError(t, w.Add(tc.add, 0, &Environment{ID: "e"}))
			err = w.Close(&Snapshot{Tenants: tc.tenants})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			got, err := os.ReadFile(p)
			require.NoError(t, err)
			assert.Equal(t, "before", string(got), "the file is left as it was")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, entries, 1)
		})
	}
}
