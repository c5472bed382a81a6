// Package policies holds the Work 365 audit rules written in Rego, their tests and the default policy data.
package policies

import "embed"

// FS holds every file under the w365 directory: the rule modules (.rego), their tests (_test.rego),
// which the engine leaves out of evaluation, and the default policy data (w365/config/data.json).
//
//go:embed w365
var FS embed.FS
