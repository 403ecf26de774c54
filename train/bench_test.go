package train

import (
	"context"
	"os"
	"testing"

	"github.com/flywheel-ml/flywheel/internal/heapwatch"
	"github.com/flywheel-ml/flywheel/prices"

	"github.com/flywheel-ml/flywheel/internal/shareddata"
)

// BenchmarkTrainStockPrices2024 is the figure for `flywheel train` on one
// target of stock_prices_2024.csv (19 assets, 8,795 days) with 5 folds and
// ridge: each iteration reads and parses the CSV, as the command does, and
// trains fwd_ret_5d_AAPL. Besides time it reports the peak heap above
// what was live before the loop.
func BenchmarkTrainStockPrices2024(b *testing.B) {
	path := shareddata.Path(b, "pypfopt/stock_prices_2024.csv")
	s := DefaultSettings()
	s.Folds = 5
	base := heapwatch.Live()
	stop := heapwatch.Watch()
	var samples float64
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		tab, err := prices.Read(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		run, err := Train(context.Background(), Options{Target: "fwd_ret_5d_AAPL", ModelFamily: FamilyRidge, Prices: tab, Settings: &s})
		if err != nil {
			b.Fatal(err)
		}
		samples = run.Metrics["samples"]
	}
	peak := stop()
	b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "peak-heap-MB")
	b.ReportMetric(samples, "samples")
}
