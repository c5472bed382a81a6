package report

// Fix is the outcome of a fix run, as reports show it next to the state it left.
type Fix struct {
	Mode     string         `json:"mode"` // "apply" or "undo"
	Journal  string         `json:"journal"`
	Counts   map[string]int `json:"counts"` // outcomes by status
	Outcomes []FixOutcome   `json:"outcomes"`
}

// FixOutcome is what became of one remediation step.
type FixOutcome struct {
	Tenant        string   `json:"tenant"`
	EnvironmentID string   `json:"environment_id"`
	Environment   string   `json:"environment"`
	Action        string   `json:"action"`
	Description   string   `json:"description"`
	Rules         []string `json:"rules"`
	Status        string   `json:"status"` // applied, already_compliant, manual, held_back, failed, not_applied
	Reason        string   `json:"reason,omitempty"`
}
