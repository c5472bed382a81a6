package fix

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/work365/audit/internal/snapshot"
)

// Journal phases.
const (
	PhaseRun     = "run"     // the first record: what run this is
	PhaseIntent  = "intent"  // written before a write is sent, with the state read just before
	PhaseOutcome = "outcome" // written after the answer (or the failure to get one)
)

// Record is one line of the JSONL journal.
type Record struct {
	Time          time.Time      `json:"time"`
	RunID         string         `json:"run_id"`
	Seq           int            `json:"seq"`
	Phase         string         `json:"phase"`
	Kind          string         `json:"kind,omitempty"` // "fix" or "undo" (run records)
	ToolVersion   string         `json:"tool_version,omitempty"`
	Tenant        string         `json:"tenant,omitempty"`
	EnvironmentID string         `json:"environment_id,omitempty"`
	Environment   string         `json:"environment,omitempty"`
	InstanceURL   string         `json:"instance_url,omitempty"`
	Action        Action         `json:"action,omitempty"`
	Params        map[string]any `json:"params,omitempty"`
	Method        string         `json:"method,omitempty"`
	Path          string         `json:"path,omitempty"` // relative to the Web API base
	Body          any            `json:"body,omitempty"`
	Before        map[string]any `json:"before,omitempty"` // state read just before the write
	// After is the value the write sets; undo reverts only while the state still holds it.
	After map[string]any `json:"after,omitempty"`
	// Schema is where the environment keeps Work 365's service user, for undo's checks.
	Schema    *snapshot.Schema `json:"schema,omitempty"`
	Status    int              `json:"status,omitempty"` // HTTP status of the answer
	Result    string           `json:"result,omitempty"` // outcome: applied, failed or unknown
	Error     string           `json:"error,omitempty"`
	CreatedID string           `json:"created_id,omitempty"`
	Undoes    int              `json:"undoes,omitempty"` // for undo writes: the seq of the write they reverse
}

// Journal appends records to a JSONL file, syncing each line to disk before the write it describes is sent.
// It is safe for concurrent use.
type Journal struct {
	mu    sync.Mutex
	f     *os.File
	path  string
	runID string
	seq   int
	now   func() time.Time
}

// OpenJournal creates (or appends to) the journal at path, readable by its owner only, and writes the run record.
func OpenJournal(path, runID, kind, toolVersion string, now func() time.Time) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j := &Journal{f: f, path: path, runID: runID, now: now}
	if _, err := j.append(Record{Phase: PhaseRun, Kind: kind, ToolVersion: toolVersion}); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Intent records a write about to be sent and returns its sequence number.
func (j *Journal) Intent(r Record) (int, error) {
	r.Phase = PhaseIntent
	return j.append(r)
}

// Outcome records the answer to the write with sequence seq.
func (j *Journal) Outcome(seq int, r Record) error {
	r.Phase, r.Seq = PhaseOutcome, seq
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.writeLocked(r)
}

func (j *Journal) append(r Record) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	r.Seq = j.seq
	return r.Seq, j.writeLocked(r)
}

func (j *Journal) writeLocked(r Record) error {
	r.Time = j.now().UTC()
	r.RunID = j.runID
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	// The intent must be on disk before the write leaves: a run killed now can still be accounted for.
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// Close closes the journal file.
func (j *Journal) Close() error { return j.f.Close() }

// Entry is a journaled write: its intent and, when the answer was recorded, its outcome.
type Entry struct {
	Intent  Record
	Outcome *Record
}

// ReadJournal reads the writes of one run from a journal: the last run in the file when runID is empty.
func ReadJournal(path, runID string) (string, []Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, fmt.Errorf("read journal: %w", err)
	}
	defer f.Close()
	var recs []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			// A run killed mid-line leaves a partial last line; anything else is corruption.
			if !sc.Scan() {
				break
			}
			return "", nil, fmt.Errorf("%s:%d: not a journal record: %w", path, line, err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return "", nil, fmt.Errorf("read journal: %w", err)
	}
	if runID == "" {
		for _, r := range recs {
			if r.Phase == PhaseRun && r.Kind == "fix" {
				runID = r.RunID
			}
		}
	}
	if runID == "" {
		return "", nil, errors.New("the journal holds no fix run")
	}
	var entries []Entry
	index := map[int]int{}
	for _, r := range recs {
		if r.RunID != runID {
			continue
		}
		switch r.Phase {
		case PhaseIntent:
			index[r.Seq] = len(entries)
			entries = append(entries, Entry{Intent: r})
		case PhaseOutcome:
			if i, ok := index[r.Seq]; ok {
				rc := r
				entries[i].Outcome = &rc
			}
		}
	}
	return runID, entries, nil
}
