package backtest

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// WriteHTML writes the comparison as one self-contained HTML page: inline
// CSS and inline SVG charts, nothing fetched from the network.
func WriteHTML(w io.Writer, res *Result) error {
	charts := []struct {
		title string
		draw  func(*Result) (*plot.Plot, error)
	}{
		{"Cumulative net P&L per policy", chartPnL},
		{"Compute used (cumulative units)", chartCompute},
		{"Signal priorities over time", chartPriority},
		{"Market and regimes", chartRegimes},
	}
	var page reportPage
	page.Result = res
	page.Table = tableText(res)
	for _, c := range charts {
		p, err := c.draw(res)
		if err != nil {
			return fmt.Errorf("chart %q: %w", c.title, err)
		}
		svg, err := renderSVG(p)
		if err != nil {
			return fmt.Errorf("chart %q: %w", c.title, err)
		}
		// The SVG comes from our own plot, not from user input.
		page.Charts = append(page.Charts, reportChart{Title: c.title, SVG: template.HTML(svg)}) // #nosec G203
	}
	return reportTmpl.Execute(w, page)
}

type reportPage struct {
	*Result
	Table  string
	Charts []reportChart
}

type reportChart struct {
	Title string
	SVG   template.HTML
}

func tableText(res *Result) string {
	var b strings.Builder
	_ = WriteTable(&b, res)
	return b.String()
}

// renderSVG draws a plot as SVG, dropping the XML prolog so that it can
// sit inline in HTML.
func renderSVG(p *plot.Plot) (string, error) {
	c := vgsvg.New(9*vg.Inch, 3.6*vg.Inch)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", err
	}
	s := buf.String()
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:]
	}
	return s, nil
}

// dayXY turns a daily series into points on a day-number axis.
func dayXY(ys []float64) plotter.XYs {
	pts := make(plotter.XYs, len(ys))
	for i, y := range ys {
		pts[i] = plotter.XY{X: float64(i), Y: y}
	}
	return pts
}

func newPlot(res *Result, title, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = y
	p.X.Label.Text = "trading day (" + res.From + " .. " + res.To + ")"
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	return p
}

// linesByPolicy draws one line per policy in report order.
func linesByPolicy(p *plot.Plot, order []string, data map[string][]float64) error {
	for i, name := range order {
		ys, ok := data[name]
		if !ok {
			continue
		}
		l, err := plotter.NewLine(dayXY(ys))
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.2)
		p.Add(l)
		p.Legend.Add(name, l)
	}
	return nil
}

func chartPnL(res *Result) (*plot.Plot, error) {
	p := newPlot(res, "Cumulative net P&L", "P&L (units of capital)")
	return p, linesByPolicy(p, res.Order, res.Series.CumPnL)
}

func chartCompute(res *Result) (*plot.Plot, error) {
	p := newPlot(res, "Compute used", "compute units")
	return p, linesByPolicy(p, res.Order, res.Series.Compute)
}

func chartPriority(res *Result) (*plot.Plot, error) {
	p := newPlot(res, "Mean and max priority of the day's signals", "priority")
	var names []string
	for _, n := range res.Order {
		if n == PolicyFlywheel || n == PolicySeed || n == PolicyThreshold {
			names = append(names, n)
		}
	}
	if err := linesByPolicy(p, names, res.Series.Priority); err != nil {
		return nil, err
	}
	for i, n := range names {
		l, err := plotter.NewLine(dayXY(res.Series.PrioMax[n]))
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		l.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(n+" (max)", l)
	}
	return p, nil
}

// chartRegimes draws the market's cumulative return and, where the
// market knows them, the volatile regime as shaded bars.
func chartRegimes(res *Result) (*plot.Plot, error) {
	p := newPlot(res, "Market cumulative return and regime", "cumulative return")
	cum := make([]float64, len(res.Series.Market))
	var c, lo, hi float64
	for i, r := range res.Series.Market {
		c += r
		cum[i] = c
		lo, hi = min(lo, c), max(hi, c)
	}
	volatile := false
	for _, g := range res.Series.Regimes {
		volatile = volatile || g == RegimeVolatile
	}
	reg := make([]float64, len(res.Series.Regimes))
	for i, g := range res.Series.Regimes {
		if g == RegimeVolatile {
			reg[i] = hi
		} else {
			reg[i] = lo
		}
	}
	if volatile {
		l, err := plotter.NewLine(dayXY(reg))
		if err != nil {
			return nil, err
		}
		l.Color = color.RGBA{R: 230, G: 140, B: 40, A: 255}
		l.StepStyle = plotter.PostStep
		p.Add(l)
		p.Legend.Add("regime (high = volatile)", l)
	}
	l, err := plotter.NewLine(dayXY(cum))
	if err != nil {
		return nil, err
	}
	p.Add(l)
	p.Legend.Add("market", l)
	return p, nil
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"date": func(t time.Time) string { return t.Format(time.DateOnly) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>flywheel backtest: {{.Market}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1000px; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 12px; }
h2 { margin-top: 1.5em; font-size: 1.1em; }
.meta { color: #555; }
svg { max-width: 100%; height: auto; }
</style></head><body>
<h1>flywheel backtest</h1>
<p class="meta">Market {{.Market}}, {{.Days}} trading days ({{.From}} .. {{.To}}), {{.Models}} models,
seed {{.Seed}}, daily budget {{.Budget}} units, periodic every {{.Period}} days.
Intervals are 95% moving-block bootstrap intervals over days.</p>
<pre>{{.Table}}</pre>
{{range .Charts}}<h2>{{.Title}}</h2>
{{.SVG}}
{{end}}
</body></html>
`))
