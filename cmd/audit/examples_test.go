package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/work365/audit/internal/config"
)

// invocation finds a command line of audit: "audit" (or a path ending in /audit) and a subcommand.
var invocation = regexp.MustCompile(`(?:^|[\s"/])audit"? ((?:scan|collect|evaluate|fix|merge|schedule|diff|history|demo|policies|doctor|version)\b.*)`)

// shellWords splits a command line as a shell would, enough for the examples: quotes, $(…), and the end
// of the command at ||, &&, ; or a comment.
func shellWords(line string) []string {
	var out []string
	var cur strings.Builder
	inWord, quote, depth := false, rune(0), 0
	prev := rune(0)
	for _, r := range line {
		if r == '(' && prev == '$' {
			depth++
		}
		prev = r
		switch {
		case depth > 0:
			cur.WriteRune(r)
			if r == ')' {
				depth--
			}
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	for i, w := range out {
		if w == "||" || w == "&&" || w == ";" || w == "|" || w == ">>" || strings.HasPrefix(w, "#") {
			return out[:i]
		}
	}
	return out
}

// commandsIn lists the audit command lines of a text, with shell and CI variables replaced by examples.
func commandsIn(text string) [][]string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	var out [][]string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue // a comment of the YAML or the script
		}
		m := invocation.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		words := shellWords(m[1])
		for i, w := range words {
			if strings.Contains(w, "$") {
				if i > 0 && words[i-1] == "--shard" {
					words[i] = "1/3"
				} else {
					words[i] = "placeholder"
				}
			}
		}
		out = append(out, words)
	}
	return out
}

// fencedCode is the text of a Markdown document's code blocks.
func fencedCode(md string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			in = !in
			continue
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// The CI and Kubernetes examples and the scheduling guide use commands and flags that exist, and configs
// that the config parser accepts.
func TestTheSchedulingExamplesUseRealCommandsAndValidConfigs(t *testing.T) {
	t.Parallel()
	_, err := config.Load("../../docs/examples/audit.yaml")
	require.NoError(t, err)

	raw := mustRead(t, "../../docs/examples/kubernetes/work365-audit.yaml")
	dec := yaml.NewDecoder(strings.NewReader(raw))
	configs := 0
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if dec.Decode(&doc) != nil {
			break
		}
		if doc.Kind == "ConfigMap" {
			_, err := config.Parse([]byte(doc.Data["audit.yaml"]), "configmap/audit.yaml")
			require.NoError(t, err)
			configs++
		}
	}
	assert.Equal(t, 1, configs)

	sources := map[string]string{}
	require.NoError(t, filepath.WalkDir("../../docs/examples", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			sources[p] = mustRead(t, p)
		}
		return err
	}))
	sources["docs/scheduling.md"] = fencedCode(mustRead(t, "../../docs/scheduling.md"))
	seen := map[string]bool{}
	for name, text := range sources {
		for _, args := range commandsIn(text) {
			root := newRootCmd(&globals{})
			cmd, rest, err := root.Find(args)
			require.NoError(t, err, "%s: audit %s", name, strings.Join(args, " "))
			require.NoError(t, cmd.ParseFlags(rest), "%s: audit %s", name, strings.Join(args, " "))
			require.NoError(t, cmd.ValidateArgs(cmd.Flags().Args()), "%s: audit %s", name, strings.Join(args, " "))
			seen[cmd.Name()] = true
		}
	}
	for _, c := range []string{"scan", "merge", "schedule", "diff", "history"} {
		assert.True(t, seen[c], "no example runs audit %s", c)
	}
}
