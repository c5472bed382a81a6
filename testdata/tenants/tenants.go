// Package tenants embeds the demo tenants and their settings, so that audit demo and audit emulator serve
// work from any directory, in a binary installed with go install as in a clone. The files stay here, beside
// the other tenant fixtures, where the tests and the documentation read them by path.
package tenants

import "embed"

//go:embed demo.yaml demo-fabrikam.yaml demo-config.yaml
var files embed.FS

// Demo names the demo tenant fixtures, in the order the demo serves them: Contoso, then Fabrikam.
var Demo = []string{"demo.yaml", "demo-fabrikam.yaml"}

// DemoConfig names the demo's settings: its waivers (the tenants come from the fixtures).
const DemoConfig = "demo-config.yaml"

// Read returns one of the embedded files, by the name it has in this directory.
func Read(name string) ([]byte, error) { return files.ReadFile(name) }
