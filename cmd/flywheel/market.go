package main

import (
	"context"
	"fmt"
	"os"

	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/config"
	"github.com/flywheel-ml/flywheel/prices"
)

// marketLoader returns what reads the market index's daily returns for
// ARPO, or nil when none is configured.
func marketLoader(m config.MarketConfig) func(context.Context) ([]arpo.MarketPoint, error) {
	if m.Prices == "" {
		return nil
	}
	return func(context.Context) ([]arpo.MarketPoint, error) {
		return readMarket(m.Prices, m.Column)
	}
}

// readMarket reads one column of a wide price CSV as daily returns.
func readMarket(path, column string) ([]arpo.MarketPoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	table, err := prices.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	series, err := table.Returns().Column(column)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	points := make([]arpo.MarketPoint, len(series.Dates))
	for i := range points {
		points[i] = arpo.MarketPoint{Date: series.Dates[i], Return: series.Values[i]}
	}
	return points, nil
}
