package dashboard

import (
	"html/template"
	"net/http"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// Bounds of the overview's queries: it must render in well under 200 ms
// with 10,000 models, so nothing it reads grows with the number of models.
const (
	topPriorities = 10
	maxActiveJobs = 50
	// historyJobs is how many of the latest jobs the scheduled-vs-completed
	// chart counts, over historyDays days.
	historyJobs = 1000
	historyDays = 14
)

// factorNames are the four priority factors in the order the bars stack.
var factorNames = []string{orchestrator.FactorCILS, orchestrator.FactorARPO, orchestrator.FactorValue, orchestrator.FactorUrgency}

type overviewData struct {
	PlanAt     time.Time
	HavePlan   bool
	Top        []priorityRow
	Factors    []string
	Budget     orchestrator.BudgetView
	BudgetBar  template.HTML
	Capacity   orchestrator.CapacityView
	Active     []jobRow
	JobsChart  template.HTML
	Loop       flywheel.LoopState
	Health     *healthView
	HealthAt   time.Time
	PlanErr    string
	HealthErr  string
	Candidates int
}

type priorityRow struct {
	orchestrator.Candidate
	Rank          int
	Contributions []segment
	Bar           template.HTML
}

type jobRow struct {
	flywheel.Job
	Bar template.HTML
}

func (s *server) overview(r *http.Request) (any, error) {
	ctx := r.Context()
	d := &overviewData{Factors: factorNames}
	if s.plan != nil {
		p, at, err := s.plan.get(ctx)
		if err != nil {
			s.logger.Warn("dashboard: plan", "err", err)
			d.PlanErr = "The plan could not be computed; the details are in the daemon's log."
		} else {
			d.HavePlan, d.PlanAt = true, at
			d.Top = topRows(p, topPriorities)
			d.Budget, d.Capacity, d.Candidates = p.Budget, p.Capacity, len(p.Candidates)
			d.BudgetBar = stackBar(p.Budget.Limit, []segment{{"spent", p.Budget.Spent}, {"reserved", p.Budget.Reserved}})
		}
	}
	active, err := s.store.Jobs(ctx, flywheel.JobFilter{States: flywheel.ActiveJobStates, Limit: maxActiveJobs})
	if err != nil {
		return nil, err
	}
	for _, j := range active {
		d.Active = append(d.Active, jobRow{Job: j, Bar: stackBar(1, []segment{{"progress", j.Progress}})})
	}
	recent, err := s.store.Jobs(ctx, flywheel.JobFilter{Limit: historyJobs})
	if err != nil {
		return nil, err
	}
	d.JobsChart = jobsChart(recent, s.now())
	if d.Loop, err = s.store.LoopState(ctx); err != nil {
		return nil, err
	}
	if s.health != nil {
		h, at, err := s.health.get(ctx)
		if err != nil {
			s.logger.Warn("dashboard: loop health", "err", err)
			d.HealthErr = "The loop's health could not be measured; the details are in the daemon's log."
		} else {
			d.Health, d.HealthAt = newHealthView(&h), at
		}
	}
	return d, nil
}

// topRows returns the first n candidates in the scheduler's ranking with
// each factor's contribution to the priority: its weight times its value.
func topRows(p *orchestrator.Plan, n int) []priorityRow {
	w := p.Weights.Weights
	weights := map[string]float64{orchestrator.FactorCILS: w.CILS, orchestrator.FactorARPO: w.ARPO,
		orchestrator.FactorValue: w.Value, orchestrator.FactorUrgency: w.Urgency}
	rows := make([]priorityRow, 0, min(n, len(p.Candidates)))
	for i, c := range p.Candidates[:min(n, len(p.Candidates))] {
		row := priorityRow{Candidate: c, Rank: i + 1}
		for _, f := range factorNames {
			row.Contributions = append(row.Contributions, segment{Name: f, Value: weights[f] * c.Factors[f]})
		}
		row.Bar = stackBar(1, row.Contributions)
		rows = append(rows, row)
	}
	return rows
}

// jobsChart counts, per day of the last historyDays, the jobs created
// (scheduled) and the jobs that succeeded (completed, by their last update).
func jobsChart(jobs []flywheel.Job, now time.Time) template.HTML {
	day := func(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }
	first := day(now).AddDate(0, 0, -(historyDays - 1))
	groups := make([]barGroup, historyDays)
	for i := range groups {
		groups[i] = barGroup{Label: first.AddDate(0, 0, i).Format("01-02"), Values: []float64{0, 0}}
	}
	idx := func(t time.Time) int { return int(day(t).Sub(first) / (24 * time.Hour)) }
	for _, j := range jobs {
		if i := idx(j.CreatedAt); i >= 0 && i < historyDays {
			groups[i].Values[0]++
		}
		if j.State == flywheel.JobSucceeded {
			if i := idx(j.UpdatedAt); i >= 0 && i < historyDays {
				groups[i].Values[1]++
			}
		}
	}
	return barChart("Jobs scheduled and completed per day", []string{"scheduled", "completed"}, groups)
}

// healthView is the loop's health as the overview shows it.
type healthView struct {
	H         *orchestrator.LoopHealth
	Latencies []latencyRow
	Figures   []orchestrator.HealthFigure
}

type latencyRow struct {
	Path string
	S    orchestrator.LatencyStat
}

func newHealthView(h *orchestrator.LoopHealth) *healthView {
	return &healthView{
		H: h,
		Latencies: []latencyRow{
			{"cils_to_training", h.CILSToTrainingLatency},
			{"arpo_to_training", h.ARPOToTrainingLatency},
			{"training_to_cils", h.TrainingToCILSLatency},
			{"training_to_arpo", h.TrainingToARPOLatency},
		},
		Figures: h.Figures(),
	}
}
