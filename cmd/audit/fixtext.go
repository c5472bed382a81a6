package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/work365/audit/internal/audit"
	"github.com/work365/audit/internal/fix"
)

// printPlan writes the plan, environment by environment, steps numbered in the order they are applied. Names,
// reasons and step texts quote tenants and Dataverse, so everything goes through printf, one line each.
func printPlan(g *globals, p *fix.Plan, apply bool) {
	w := g.stdout
	if apply {
		printf(w, "Fix plan (%s)\n", fmtTime(g.now()))
	} else {
		printf(w, "Fix plan (%s) — nothing is changed; run again with --apply to apply the automatic steps\n", fmtTime(g.now()))
	}
	if len(p.Environments) == 0 {
		fmt.Fprintln(w, "\nNothing to fix: no failing result has a remediation.")
		return
	}
	var held, blocked []fix.EnvPlan
	for _, e := range p.Environments {
		printf(w, "\n%s\n", envHeading(e))
		switch {
		case e.Blocked != "":
			printf(w, "  No automatic change: %s.\n", e.Blocked)
			blocked = append(blocked, e)
		case e.Gate == fix.GateClosed:
			printf(w, "  Held back — %s.\n", e.GateReason)
			held = append(held, e)
		case e.Gate == fix.GateConditional:
			printf(w, "  Conditional — %s.\n", e.GateReason)
		case e.GateReason != "":
			printf(w, "  (%s)\n", e.GateReason)
		}
		n := 0
		if len(e.Steps) > 0 {
			fmt.Fprintln(w, "  Automatic:")
			for _, st := range e.Steps {
				n++
				printf(w, "  %2d. %s  [%s]\n", n, st.Description, strings.Join(st.Rules, ", "))
			}
		}
		if len(e.Manual) > 0 {
			fmt.Fprintln(w, "  Manual (a person has to do these):")
			for _, st := range e.Manual {
				n++
				printf(w, "  %2d. %s  [%s]\n", n, st.Title, strings.Join(st.Rules, ", "))
				for i, s := range st.Steps {
					printf(w, "      %c. %s\n", 'a'+rune(i%26), s)
				}
			}
		}
		if len(e.NotApplied) > 0 {
			fmt.Fprintln(w, "  Not applied:")
			for _, st := range e.NotApplied {
				printf(w, "    - %s  [%s]: %s\n", st.Description, strings.Join(st.Rules, ", "), st.Reason)
			}
		}
	}
	printf(w, "\n%d automatic steps in %d environments", p.Automatic(), audit.CountEnvs(p))
	if len(held) > 0 {
		names := []string{}
		for _, e := range held {
			names = append(names, e.Name)
		}
		printf(w, "; held back: %s", strings.Join(names, ", "))
	}
	if len(blocked) > 0 {
		printf(w, "; not changed: %d", len(blocked))
	}
	fmt.Fprintln(w, ".")
}

func envHeading(e fix.EnvPlan) string {
	parts := []string{e.Name}
	if e.Type != "" {
		parts = append(parts, e.Type)
	}
	if e.Region != "" {
		parts = append(parts, e.Region)
	}
	return strings.Join(parts, " · ") + "  (tenant " + e.Tenant + ")"
}

var outcomeWords = map[string]string{
	fix.OutcomeApplied:    "applied",
	fix.OutcomeAlready:    "already compliant",
	fix.OutcomeManual:     "manual",
	fix.OutcomeHeldBack:   "held back",
	fix.OutcomeFailed:     "FAILED",
	fix.OutcomeNotApplied: "not applied",
	fix.OutcomeUnknown:    "UNKNOWN",
}

// printOutcomes writes what became of every step, per environment, then the counts.
func printOutcomes(g *globals, res *fix.Result) {
	w := g.stdout
	if res == nil || len(res.Outcomes) == 0 {
		return
	}
	fmt.Fprintln(w, "\nOutcome")
	last := ""
	counts := map[string]int{}
	for _, o := range res.Outcomes {
		if key := o.Tenant + "/" + o.Environment; key != last {
			printf(w, "\n%s  (tenant %s)\n", o.Environment, o.Tenant)
			last = key
		}
		counts[o.Status]++
		desc := o.Step.Description
		if o.Step.Action == fix.ActManual {
			desc = o.Step.Title
		}
		line := fmt.Sprintf("  %-17s %s", outcomeWords[o.Status], desc)
		if o.Reason != "" {
			line += " — " + o.Reason
		}
		printf(w, "%s\n", line)
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{}
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], outcomeWords[k]))
	}
	printf(w, "\n%s.\n", strings.Join(parts, ", "))
}

// printUndoPlan writes the reversal of a run, newest write first.
func printUndoPlan(g *globals, p *fix.UndoPlan, path string) {
	w := g.stdout
	printf(w, "Undo plan for run %s of %s\n", p.RunID, path)
	if len(p.Steps) == 0 {
		fmt.Fprintln(w, "\nNothing to undo: the run made no reversible write.")
		return
	}
	last := ""
	for i, st := range p.Steps {
		if key := st.Tenant + "/" + st.Environment; key != last {
			printf(w, "\n%s  (tenant %s)\n", st.Environment, st.Tenant)
			last = key
		}
		if st.Irreversible != "" {
			printf(w, "  %2d. cannot be undone: %s — %s\n", i+1, st.Description, st.Irreversible)
			continue
		}
		printf(w, "  %2d. %s  (reverses write %d)\n", i+1, st.Description, st.Seq)
	}
	fmt.Fprintln(w)
}
