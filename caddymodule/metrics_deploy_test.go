package caddymodule

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDeployFilesUseExportedMetrics: the alerting rules and the dashboard
// in deploy/ may only name metrics the bridge exports, so a renamed metric
// cannot leave an alert that never fires or a panel that stays empty.
func TestDeployFilesUseExportedMetrics(t *testing.T) {
	exported := map[string]bool{}
	for _, c := range newMetrics().collectors() {
		descs := make(chan *prometheus.Desc, 4)
		c.Describe(descs)
		close(descs)
		for d := range descs {
			name := regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(d.String())
			if name == nil {
				t.Fatalf("no name in %s", d)
			}
			exported[name[1]] = true
		}
	}
	metricName := regexp.MustCompile(`caddy_devicebridge_[a-z_]+`)
	for _, file := range []string{"../deploy/prometheus/devicebridge-alerts.yml", "../deploy/grafana/devicebridge.json"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		used := metricName.FindAllString(string(raw), -1)
		if len(used) == 0 {
			t.Errorf("%s names no metric", file)
		}
		for _, name := range used {
			base := name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if trimmed := strings.TrimSuffix(name, suffix); trimmed != name && exported[trimmed] {
					base = trimmed
				}
			}
			if !exported[base] {
				t.Errorf("%s uses %s, which the bridge does not export", file, name)
			}
		}
	}
}
