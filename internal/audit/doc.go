// Package audit is the application layer: it owns a run from the configuration to the reports' model. The
// commands of cmd/audit parse flags, prompt and print; everything they chain — loading the config and the
// policies, building the tenants' targets and their clients, collecting, evaluating with the waivers,
// planning and applying fixes under the tenants' locks with a journal, verifying, undoing, and recording runs
// in the history with their drift and notifications — is assembled here, once.
//
// A run starts with Open, which returns a Session: Scan collects and evaluates, Plan and Apply fix, Undo
// reverses a journal. Evaluate is the offline path (a saved snapshot). A Recorder keeps a run in the history.
// Deps carries what the process provides (clock, environment, HTTP client, standard error, progress), so
// tests and the benchmark inject their own.
package audit
