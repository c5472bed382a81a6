package history

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations bring a store from one schema version to the next: migrations[i] goes from version i to i+1.
// The version is SQLite's user_version. Steps are only ever appended; a released step never changes.
var migrations = []string{
	// 1: runs, what each run recorded, and the status of every (environment, rule) pair.
	`CREATE TABLE runs (
		id            INTEGER PRIMARY KEY,
		started_at    TEXT NOT NULL,
		finished_at   TEXT NOT NULL,
		status        TEXT NOT NULL CHECK (status IN ('complete', 'interrupted', 'failed')),
		trigger       TEXT NOT NULL,
		scope         TEXT NOT NULL,
		tool_version  TEXT NOT NULL,
		tool_digest   TEXT NOT NULL,
		policy_digest TEXT NOT NULL,
		fail_on       TEXT NOT NULL,
		collected_at  TEXT,
		exit_code     INTEGER,
		error         TEXT,
		summary       TEXT
	);
	CREATE INDEX runs_by_scope ON runs (scope, status, id);
	CREATE TABLE run_data (
		run_id   INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
		report   BLOB,
		snapshot BLOB
	);
	CREATE TABLE results (
		run_id         INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
		tenant         TEXT NOT NULL,
		environment_id TEXT NOT NULL,
		environment    TEXT NOT NULL,
		rule_id        TEXT NOT NULL,
		status         TEXT NOT NULL,
		severity       TEXT NOT NULL,
		first_seen     TEXT,
		first_seen_run INTEGER,
		PRIMARY KEY (run_id, environment_id, rule_id)
	) WITHOUT ROWID;`,
	// 2: the notifications sent (or not) after each run.
	`CREATE TABLE notifications (
		run_id   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
		target   TEXT NOT NULL,
		type     TEXT NOT NULL,
		events   TEXT NOT NULL,
		status   TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
		attempts INTEGER NOT NULL,
		error    TEXT,
		sent_at  TEXT NOT NULL,
		PRIMARY KEY (run_id, target)
	) WITHOUT ROWID;`,
	// 3: what each run could not read, and the earlier run that last read it: a pair, an environment
	// (rule_id ''), or a tenant's environment list (environment_id and rule_id '').
	`CREATE TABLE last_read (
		run_id         INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
		tenant         TEXT NOT NULL,
		environment_id TEXT NOT NULL,
		rule_id        TEXT NOT NULL,
		read_run       INTEGER NOT NULL,
		PRIMARY KEY (run_id, tenant, environment_id, rule_id)
	) WITHOUT ROWID;`,
}

// SchemaVersion is the store schema this build writes.
var SchemaVersion = len(migrations)

// migrate applies the missing steps in one transaction, so a store is never left between two versions.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d, newer than this build's %d: upgrade audit to use it", v, len(migrations))
	}
	if v == len(migrations) {
		return nil
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return err
	}
	return tx.Commit()
}
