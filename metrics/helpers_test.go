package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// find returns the series of name whose labels include want.
func find(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) (*dto.Metric, int) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var found *dto.Metric
		for _, m := range mf.GetMetric() {
			if hasLabels(m, want) {
				found = m
			}
		}
		return found, len(mf.GetMetric())
	}
	return nil, 0
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok && v == lp.GetValue() {
			n++
		}
	}
	return n == len(want)
}

// metricValue returns a counter's or gauge's value, 0 when absent.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	m, _ := find(t, g, name, labels)
	if m == nil {
		return 0
	}
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

func histogramCount(t *testing.T, g prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	m, _ := find(t, g, name, map[string]string{label: value})
	if m == nil {
		return 0
	}
	return float64(m.GetHistogram().GetSampleCount())
}

func seriesCount(t *testing.T, g prometheus.Gatherer, name string) int {
	t.Helper()
	_, n := find(t, g, name, nil)
	return n
}
