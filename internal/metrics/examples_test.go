package metrics

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The Kubernetes example of the scheduler is scraped where it serves: its annotations and its liveness probe
// name the port and the paths that --metrics-addr serves, on an address reachable from outside the pod.
func TestTheKubernetesSchedulerIsScrapedWhereItServes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "examples", "kubernetes", "work365-audit-scheduler.yaml"))
	require.NoError(t, err)
	type port struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	}
	var d struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Replicas int `yaml:"replicas"`
			Template struct {
				Metadata struct {
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"metadata"`
				Spec struct {
					Containers []struct {
						Args          []string `yaml:"args"`
						Ports         []port   `yaml:"ports"`
						LivenessProbe struct {
							HTTPGet struct {
								Path string `yaml:"path"`
								Port string `yaml:"port"`
							} `yaml:"httpGet"`
						} `yaml:"livenessProbe"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &d))
	require.Equal(t, "Deployment", d.Kind)
	assert.Equal(t, 1, d.Spec.Replicas, "one scheduler per history")
	require.Len(t, d.Spec.Template.Spec.Containers, 1)
	c := d.Spec.Template.Spec.Containers[0]
	require.Len(t, c.Args, 1)
	m := regexp.MustCompile(`--metrics-addr (\S+)`).FindStringSubmatch(c.Args[0])
	require.NotNil(t, m, c.Args[0])
	addr, err := ListenAddress(m[1])
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0:9365", addr, "reachable from Prometheus, outside the pod")

	a := d.Spec.Template.Metadata.Annotations
	assert.Equal(t, map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9365", "prometheus.io/path": "/metrics"}, a)
	assert.Equal(t, []port{{Name: "metrics", ContainerPort: 9365}}, c.Ports)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, "metrics", c.LivenessProbe.HTTPGet.Port)
}
