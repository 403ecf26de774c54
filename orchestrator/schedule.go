package orchestrator

import (
	"fmt"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// Why a candidate was or was not admitted: Candidate.Reason.
const (
	ReasonAdmitted         = "admitted"
	ReasonAlreadyRunning   = "already running"
	ReasonCooldown         = "cooldown"
	ReasonBelowMinPriority = "below min_priority"
	ReasonNoSlot           = "no free slot"
	ReasonOverGPU          = "over GPU memory"
	ReasonOverCPU          = "over CPU cores"
	ReasonBudget           = "budget exhausted"
	ReasonNoValue          = "no expected value"
	ReasonNotChosen        = "not chosen: a better set fits"
)

// CapacityView is the machine's capacity as a plan sees it: the limits,
// what the active jobs hold, and what the plan's jobs add.
type CapacityView struct {
	Slots       int     `json:"slots"`
	GPUMemoryGB float64 `json:"gpu_memory_gb"`
	CPUCores    int     `json:"cpu_cores"`
	// Active* are held by jobs already queued, admitted or running.
	ActiveJobs        int     `json:"active_jobs"`
	ActiveGPUMemoryGB float64 `json:"active_gpu_memory_gb"`
	ActiveCPUCores    int     `json:"active_cpu_cores"`
	// Admitted* are what the plan's jobs take.
	AdmittedJobs        int     `json:"admitted_jobs"`
	AdmittedGPUMemoryGB float64 `json:"admitted_gpu_memory_gb"`
	AdmittedCPUCores    int     `json:"admitted_cpu_cores"`
}

// scheduler decides admission for the ranked candidates.
type scheduler struct {
	cfg    *Config
	now    time.Time
	active map[flywheel.ModelKey]*flywheel.Job
	models map[flywheel.ModelKey]*ModelState
	cap    CapacityView
	free   room
}

func newScheduler(cfg *Config, snap *Snapshot, x *index, remaining float64) *scheduler {
	s := &scheduler{cfg: cfg, now: snap.Now, active: map[flywheel.ModelKey]*flywheel.Job{}, models: x.models}
	s.cap = CapacityView{Slots: cfg.Scheduler.MaxConcurrent, GPUMemoryGB: cfg.Scheduler.GPUMemoryGB, CPUCores: cfg.Scheduler.CPUCores}
	for i := range snap.ActiveJobs {
		j := &snap.ActiveJobs[i]
		if j.State.Terminal() {
			continue
		}
		// Every job not yet finished holds its share, queued ones too:
		// they are the seed's active_jobs and will run.
		s.active[j.ModelKey] = j
		s.cap.ActiveJobs++
		s.cap.ActiveGPUMemoryGB += j.Resources.GPUMemoryGB
		s.cap.ActiveCPUCores += j.Resources.CPUCores
	}
	s.free = room{
		slots: max(0, s.cap.Slots-s.cap.ActiveJobs),
		gpu:   s.cap.GPUMemoryGB - s.cap.ActiveGPUMemoryGB,
		cpu:   float64(s.cap.CPUCores - s.cap.ActiveCPUCores),
		cost:  remaining,
	}
	return s
}

// admit sets Admitted, Reason and Detail of every candidate (sorted by
// score) and returns the search statistics.
func (s *scheduler) admit(cands []Candidate) SearchView {
	var items []item
	for i := range cands {
		c := &cands[i]
		if reason, detail := s.screen(c); reason != "" {
			c.Reason, c.Detail = reason, detail
			continue
		}
		items = append(items, item{cand: i, value: c.Score, gpu: c.Resources.GPUMemoryGB,
			cpu: float64(c.Resources.CPUCores), cost: c.EstimatedCost})
	}
	chosen, view := knapsack(items, s.free, s.cfg.Scheduler.MaxSearchNodes)
	left := s.free
	in := make([]bool, len(items))
	minChosen := 0.0
	for n, i := range chosen {
		in[i] = true
		c := &cands[items[i].cand]
		c.Admitted, c.Reason = true, ReasonAdmitted
		left = left.minus(&items[i])
		if n == 0 || c.Score < minChosen {
			minChosen = c.Score
		}
		s.cap.AdmittedJobs++
		s.cap.AdmittedGPUMemoryGB += c.Resources.GPUMemoryGB
		s.cap.AdmittedCPUCores += c.Resources.CPUCores
	}
	for i := range items {
		if in[i] {
			continue
		}
		c := &cands[items[i].cand]
		c.Reason, c.Detail = s.passedOver(&items[i], left, len(chosen) > 0 && c.Score > minChosen)
	}
	return view
}

// screen returns why a candidate cannot be admitted on its own, or "" when
// it could. Its own state comes first (running, cooling down, too low),
// then the capacity left by the active jobs and the day's spend.
func (s *scheduler) screen(c *Candidate) (string, string) {
	if j, ok := s.active[c.ModelKey]; ok {
		return ReasonAlreadyRunning, fmt.Sprintf("job %s is %s", j.ID, j.State)
	}
	if m, ok := s.models[c.ModelKey]; ok && m.LastJobEnd != nil {
		until := m.LastJobEnd.Add(hours(s.cfg.Scheduler.CooldownHours))
		if s.now.Before(until) {
			return ReasonCooldown, fmt.Sprintf("last job ended %s; cooldown until %s",
				m.LastJobEnd.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339))
		}
	}
	if c.EffectivePriority < s.cfg.MinPriority {
		return ReasonBelowMinPriority, fmt.Sprintf("priority %.3f (%.3f with aging) is below %.2f",
			c.Priority, c.EffectivePriority, s.cfg.MinPriority)
	}
	it := item{gpu: c.Resources.GPUMemoryGB, cpu: float64(c.Resources.CPUCores), cost: c.EstimatedCost}
	if reason, detail := blocked(&it, s.free, "active jobs hold"); reason != "" {
		return reason, detail
	}
	if c.Score <= 0 {
		return ReasonNoValue, fmt.Sprintf("composite score %.3f: the expected improvement does not pay for the cost", c.Score)
	}
	return "", ""
}

// blocked names the first limit an item does not fit in, in the order
// slots, GPU memory, CPU cores, budget.
func blocked(it *item, free room, holder string) (string, string) {
	switch {
	case free.slots < 1:
		return ReasonNoSlot, fmt.Sprintf("%s every slot", holder)
	case it.gpu > free.gpu+capacityEps:
		return ReasonOverGPU, fmt.Sprintf("needs %g GB of GPU memory; %g GB free", it.gpu, max(0, free.gpu))
	case it.cpu > free.cpu+capacityEps:
		return ReasonOverCPU, fmt.Sprintf("needs %g CPU cores; %g free", it.cpu, max(0, free.cpu))
	case it.cost > free.cost+capacityEps:
		return ReasonBudget, fmt.Sprintf("needs %.3g units; %.3g left today", it.cost, max(0, free.cost))
	}
	return "", ""
}

// passedOver explains a candidate that fitted on its own but is not in the
// chosen set. One that outranks an admitted candidate lost to a better
// set; one that does not is stopped by the first limit the chosen set
// leaves too little of.
func (s *scheduler) passedOver(it *item, left room, outranks bool) (string, string) {
	if outranks {
		return ReasonNotChosen, "fits on its own, but the admitted set has a larger total score"
	}
	if reason, detail := blocked(it, left, "active and admitted jobs hold"); reason != "" {
		return reason, detail
	}
	return ReasonNotChosen, "the search stopped before reaching it"
}
