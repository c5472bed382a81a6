// Command summary reads the JSON results that gremlins wrote for each package and prints one table: killed,
// lived, not covered and timed out mutants, the efficacy and the mutant coverage of each package. It also
// lists the mutants that lived, one per line as path:line:column and mutation, for review.
//
// Usage:
//
//	summary [-lived FILE] DIR PACKAGE...
//
// Each PACKAGE (a directory of the module, e.g. internal/fix) is read from DIR/<PACKAGE with / as ->.json.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// result is the part of gremlins' JSON output that the table needs.
type result struct {
	Files []struct {
		Name      string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
	Elapsed float64 `json:"elapsed_time"`
}

// mutant is one mutation that lived, where it was made.
type mutant struct {
	File         string
	Line, Column int
	Type         string
}

func (m mutant) String() string {
	return fmt.Sprintf("%s:%d:%d %s", m.File, m.Line, m.Column, m.Type)
}

// tally counts one package's mutants by status.
type tally struct {
	Package                                        string
	Killed, Lived, NotCovered, TimedOut, NotViable int
	Elapsed                                        float64
	LivedAt                                        []mutant
}

// Efficacy is the share of killed mutants among those the tests ran against and that finished: killed / (killed
// + lived), as gremlins computes it. Timed-out and not viable mutants count in neither.
func (t tally) Efficacy() float64 {
	return percent(t.Killed, t.Killed+t.Lived)
}

// Coverage is the share of mutants that some test of the package reaches: (killed + lived) / (killed + lived +
// not covered), as gremlins computes it.
func (t tally) Coverage() float64 {
	return percent(t.Killed+t.Lived, t.Killed+t.Lived+t.NotCovered)
}

func percent(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// FileName is where the results of pkg are read from within the results directory.
func FileName(pkg string) string {
	return strings.ReplaceAll(path.Clean(pkg), "/", "-") + ".json"
}

func read(dir, pkg string) (tally, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileName(pkg)))
	if err != nil {
		return tally{}, fmt.Errorf("read results of %s: %w", pkg, err)
	}
	var r result
	if err := json.Unmarshal(b, &r); err != nil {
		return tally{}, fmt.Errorf("decode results of %s: %w", pkg, err)
	}
	t := tally{Package: pkg, Elapsed: r.Elapsed}
	for _, f := range r.Files {
		for _, m := range f.Mutations {
			switch m.Status {
			case "KILLED":
				t.Killed++
			case "LIVED":
				t.Lived++
				t.LivedAt = append(t.LivedAt, mutant{path.Join(pkg, f.Name), m.Line, m.Column, m.Type})
			case "NOT COVERED":
				t.NotCovered++
			case "TIMED OUT":
				t.TimedOut++
			case "NOT VIABLE":
				t.NotViable++
			}
		}
	}
	// gremlins writes files in map order; sort so that two runs compare line by line.
	sort.Slice(t.LivedAt, func(i, j int) bool {
		a, b := t.LivedAt[i], t.LivedAt[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Type < b.Type
	})
	return t, nil
}

func writeTable(w io.Writer, ts []tally) error {
	// Numbers align right under their headings, which are wider than any count or percentage.
	width := len("package")
	for _, t := range ts {
		width = max(width, len(t.Package))
	}
	if _, err := fmt.Fprintf(w, "%-*s  killed  lived  not covered  timed out  efficacy %%  mutant coverage %%    time\n",
		width, "package"); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := fmt.Fprintf(w, "%-*s  %6d  %5d  %11d  %9d  %10.1f  %17.1f  %6s\n", width, t.Package, t.Killed,
			t.Lived, t.NotCovered, t.TimedOut, t.Efficacy(), t.Coverage(), fmt.Sprintf("%.0fs", t.Elapsed)); err != nil {
			return err
		}
	}
	return nil
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("summary", flag.ContinueOnError)
	fs.SetOutput(stdout)
	lived := fs.String("lived", "", "write the mutants that lived to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return errors.New("usage: summary [-lived FILE] DIR PACKAGE...")
	}
	dir := fs.Arg(0)
	var ts []tally
	for _, pkg := range fs.Args()[1:] {
		t, err := read(dir, pkg)
		if err != nil {
			return err
		}
		ts = append(ts, t)
	}
	if err := writeTable(stdout, ts); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	if *lived != "" {
		var b strings.Builder
		for _, t := range ts {
			for _, l := range t.LivedAt {
				b.WriteString(l.String() + "\n")
			}
		}
		if err := os.WriteFile(*lived, []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("write mutants that lived: %w", err)
		}
	}
	return nil
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "summary:", err)
		os.Exit(1)
	}
}
