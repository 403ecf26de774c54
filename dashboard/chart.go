package dashboard

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
	"time"
)

// Charts are SVG written here, on the server: a few hundred bytes of
// paths per chart, no plotting library, no script. Every text is escaped;
// everything else is a number.

// palette gives series their colours, in order.
var palette = []string{"#2563eb", "#16a34a", "#ea580c", "#9333ea", "#dc2626", "#0891b2", "#ca8a04"}

// point is one (time, value) pair of a series.
type point struct {
	T time.Time
	V float64
}

// series is a named line.
type series struct {
	Name   string
	Points []point
}

// Chart layout, in SVG user units.
const (
	chartW   = 640
	chartH   = 200
	padLeft  = 56
	padRight = 12
	padTop   = 12
	padBot   = 28
)

// lineChart draws series against time with a y axis labelled with its
// bounds; it returns an empty-state note when there is nothing to draw.
func lineChart(label string, ss []series) template.HTML {
	var tmin, tmax time.Time
	ymin, ymax := math.Inf(1), math.Inf(-1)
	n := 0
	for _, s := range ss {
		for _, p := range s.Points {
			if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				continue
			}
			if n == 0 || p.T.Before(tmin) {
				tmin = p.T
			}
			if n == 0 || p.T.After(tmax) {
				tmax = p.T
			}
			ymin, ymax = math.Min(ymin, p.V), math.Max(ymax, p.V)
			n++
		}
	}
	if n == 0 {
		return template.HTML(`<p class="empty">No data yet.</p>`)
	}
	if ymax == ymin {
		ymin, ymax = ymin-1, ymax+1
	}
	span := tmax.Sub(tmin).Seconds()
	if span == 0 {
		span = 1
	}
	x := func(t time.Time) float64 { return padLeft + (chartW-padLeft-padRight)*t.Sub(tmin).Seconds()/span }
	y := func(v float64) float64 { return padTop + (chartH-padTop-padBot)*(ymax-v)/(ymax-ymin) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartW, chartH, html.EscapeString(label))
	axes(&b, ymin, ymax, tmin, tmax, y)
	for i, s := range ss {
		col := palette[i%len(palette)]
		var d strings.Builder
		first := true
		for _, p := range s.Points {
			if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				continue
			}
			cmd := 'L'
			if first {
				cmd, first = 'M', false
			}
			fmt.Fprintf(&d, "%c%.1f %.1f", cmd, x(p.T), y(p.V))
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"/>`, d.String(), col)
		if len(s.Points) <= 60 {
			for _, p := range s.Points {
				if !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
					fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2" fill="%s"><title>%s %s: %s</title></circle>`,
						x(p.T), y(p.V), col, html.EscapeString(s.Name), formatTime(p.T), formatNum(p.V))
				}
			}
		}
	}
	legend(&b, ss)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func axes(b *strings.Builder, ymin, ymax float64, tmin, tmax time.Time, y func(float64) float64) {
	fmt.Fprintf(b, `<g class="axis"><line x1="%d" y1="%d" x2="%d" y2="%d"/><line x1="%d" y1="%d" x2="%d" y2="%d"/>`,
		padLeft, padTop, padLeft, chartH-padBot, padLeft, chartH-padBot, chartW-padRight, chartH-padBot)
	fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, padLeft-4, y(ymax)+4, shortNum(ymax))
	fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, padLeft-4, y(ymin)+4, shortNum(ymin))
	if ymin < 0 && ymax > 0 {
		fmt.Fprintf(b, `<line class="zero" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, padLeft, y(0), chartW-padRight, y(0))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d">%s</text><text x="%d" y="%d" text-anchor="end">%s</text></g>`,
		padLeft, chartH-8, tmin.UTC().Format("2006-01-02"), chartW-padRight, chartH-8, tmax.UTC().Format("2006-01-02"))
}

func legend(b *strings.Builder, ss []series) {
	if len(ss) < 2 {
		return
	}
	x := padLeft + 8
	for i, s := range ss {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`,
			x, padTop, palette[i%len(palette)], x+14, padTop+9, html.EscapeString(s.Name))
		x += 24 + 7*len(s.Name)
	}
}

func shortNum(v float64) string {
	return fmt.Sprintf("%.3g", v)
}

// barGroup is one x position of a grouped bar chart.
type barGroup struct {
	Label  string
	Values []float64
}

// barChart draws groups of bars side by side, one colour per name.
func barChart(label string, names []string, groups []barGroup) template.HTML {
	ymax := 0.0
	for _, g := range groups {
		for _, v := range g.Values {
			ymax = math.Max(ymax, v)
		}
	}
	if len(groups) == 0 {
		return template.HTML(`<p class="empty">No data yet.</p>`)
	}
	if ymax == 0 {
		ymax = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartW, chartH, html.EscapeString(label))
	y := func(v float64) float64 { return padTop + (chartH-padTop-padBot)*(ymax-v)/ymax }
	fmt.Fprintf(&b, `<g class="axis"><line x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%.1f" text-anchor="end">%s</text><text x="%d" y="%.1f" text-anchor="end">0</text></g>`,
		padLeft, chartH-padBot, chartW-padRight, chartH-padBot, padLeft-4, y(ymax)+4, shortNum(ymax), padLeft-4, y(0)+4)
	slot := float64(chartW-padLeft-padRight) / float64(len(groups))
	bw := slot * 0.8 / float64(max(1, len(names)))
	for i, g := range groups {
		x0 := padLeft + slot*float64(i) + slot*0.1
		for j, v := range g.Values {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
				x0+bw*float64(j), y(v), bw, y(0)-y(v), palette[j%len(palette)],
				html.EscapeString(g.Label), html.EscapeString(names[j]), shortNum(v))
		}
		if len(groups) <= 16 || i%(len(groups)/8+1) == 0 {
			fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x0+slot*0.4, chartH-10, html.EscapeString(g.Label))
		}
	}
	ss := make([]series, len(names))
	for i, n := range names {
		ss[i].Name = n
	}
	legend(&b, ss)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// segment is one part of a stacked horizontal bar.
type segment struct {
	Name  string
	Value float64
}

// stackBar draws segments end to end on a scale of 0 to full, for the
// factor contributions of a priority, a budget, a job's progress.
func stackBar(full float64, segs []segment) template.HTML {
	const w, h = 240, 14
	if full <= 0 {
		full = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bar" viewBox="0 0 %d %d" width="%d" height="%d"><rect class="track" width="%d" height="%d"/>`, w, h, w, h, w, h)
	x := 0.0
	for i, s := range segs {
		if s.Value <= 0 {
			continue
		}
		sw := math.Min(float64(w)-x, float64(w)*s.Value/full)
		fmt.Fprintf(&b, `<rect x="%.1f" width="%.1f" height="%d" fill="%s"><title>%s: %s</title></rect>`,
			x, sw, h, palette[i%len(palette)], html.EscapeString(s.Name), formatNum(s.Value))
		x += sw
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
