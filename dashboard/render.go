package dashboard

import (
	"bytes"
	"context"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
)

// priorityTable is what the priority-table template takes.
type priorityTable struct {
	Rows    []priorityRow
	Factors []string
}

// pageNames are the templates under templates/, one per page; each
// defines "content", which layout.html wraps.
var pageNames = []string{"overview", "model", "insights", "config", "plan", "login", "error"}

type pages struct {
	t map[string]*template.Template
}

func mustParsePages() *pages {
	p := &pages{t: map[string]*template.Template{}}
	for _, name := range pageNames {
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/charts.html", "templates/"+name+".html"))
		p.t[name] = t
	}
	return p
}

// layoutData is what every page gets: its own data in Page.
type layoutData struct {
	Title   string
	Active  string
	Session *session
	Open    bool
	// Refresh is the page's refresh interval in milliseconds; 0 turns it off.
	Refresh  int64
	Rendered time.Time
	Page     any
}

type ctxKey struct{}

func withSession(ctx context.Context, s *session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

func sessionOf(ctx context.Context) *session {
	s, _ := ctx.Value(ctxKey{}).(*session)
	return s
}

// page builds the handler of a page from the function that loads its
// data. With ?fragment=1 only the main element's content is sent: that is
// what the page's script swaps in every Refresh.
func (s *server) page(name string, load func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := s.sessionFor(w, r)
		if ss == nil {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
			return
		}
		r = r.WithContext(withSession(r.Context(), ss))
		data, err := load(r)
		if err != nil {
			s.renderError(w, r, ss, err)
			return
		}
		d := layoutData{Title: title(name), Active: name, Session: ss, Open: s.auth.open,
			Refresh: s.refresh.Milliseconds(), Rendered: s.now(), Page: data}
		s.execute(w, r, name, d, http.StatusOK)
	})
}

func (s *server) execute(w http.ResponseWriter, r *http.Request, name string, d layoutData, status int) {
	tmpl := "layout.html"
	if r.URL.Query().Get("fragment") == "1" {
		tmpl = "content"
	}
	// Render into a buffer so that a template error becomes a clean 500
	// rather than half a page.
	var buf bytes.Buffer
	if err := s.pages.t[name].ExecuteTemplate(&buf, tmpl, d); err != nil {
		s.logger.Error("dashboard: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *server) renderError(w http.ResponseWriter, r *http.Request, ss *session, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong; the details are in the daemon's log."
	switch flywheel.Code(err) {
	case flywheel.ENotFound, flywheel.EInvalid:
		status, msg = http.StatusNotFound, err.Error()
	default:
		s.logger.Error("dashboard: load page", "path", r.URL.Path, "err", err)
	}
	s.execute(w, r, "error", layoutData{Title: http.StatusText(status), Session: ss, Open: s.auth.open, Page: msg}, status)
}

func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, msg string, status int) {
	next := r.URL.Query().Get("next")
	if next == "" {
		next = r.PostFormValue("next")
	}
	s.execute(w, r, "login", layoutData{Title: "Log in", Page: struct{ Message, Next string }{msg, safeNext(next)}}, status)
}

func title(name string) string {
	switch name {
	case "overview":
		return "Overview"
	case "model":
		return "Model"
	case "insights":
		return "Insights"
	case "config":
		return "Config"
	case "plan":
		return "Plan"
	}
	return name
}

// funcs format numbers the one way the pages show them, so that a test
// (or a person) can compare a page with the API: num prints four
// decimals, and raw the exact value for a data-value attribute.
var funcs = template.FuncMap{
	"num":  func(v float64) string { return formatNum(v) },
	"num2": func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	"raw":  func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) },
	"opt":  optNum,
	"pct":  func(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" },
	"optpct": func(p *float64) string {
		if p == nil || math.IsNaN(*p) {
			return "—"
		}
		return strconv.FormatFloat(100**p, 'f', 1, 64) + "%"
	},
	"time": formatTime,
	"ptime": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return formatTime(*t)
	},
	"secs": formatSeconds,
	"modelURL": func(k flywheel.ModelKey) string {
		return "/models/" + url.PathEscape(k.Target) + "/" + url.PathEscape(k.ModelFamily)
	},
	"dict": func(rows []priorityRow, factors []string) priorityTable {
		return priorityTable{Rows: rows, Factors: factors}
	},
	"float": func(n arpo.Number) float64 { return float64(n) },
	"join": func(ss []string) string {
		var b bytes.Buffer
		for i, s := range ss {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(s)
		}
		return b.String()
	},
}

// formatNum is how every number is shown: four decimals, the way a test
// formats the API's value to compare.
func formatNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

func optNum(p *float64) string {
	if p == nil {
		return "—"
	}
	return formatNum(*p)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func formatSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}
