package orchestrator

import (
	"maps"
	"slices"
	"time"
)

// BudgetView is the day's compute budget as a plan sees it.
type BudgetView struct {
	// TimeZone and Day name the budget day ("2026-03-10"); DayStart and
	// DayEnd bound it, [start, end).
	TimeZone string    `json:"time_zone"`
	Day      string    `json:"day"`
	DayStart time.Time `json:"day_start"`
	DayEnd   time.Time `json:"day_end"`
	// Limit is the daily budget; Spent what the ledger charges to the day
	// before this plan; Reserved what the plan's jobs reserve; Remaining
	// what is left after them. All in compute units.
	Limit     float64 `json:"limit"`
	Spent     float64 `json:"spent"`
	Reserved  float64 `json:"reserved"`
	Remaining float64 `json:"remaining"`
}

// budgetDay returns the calendar day of now in loc, as [start, end). A
// day is not always 24 hours (daylight saving), hence the date arithmetic.
func budgetDay(now time.Time, loc *time.Location) (start, end time.Time) {
	y, m, d := now.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc), time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

// Spent returns what the ledger charges to the budget day [start, end):
// every job reserved in the day, at its latest settlement if settled,
// else at its reservation; and every settlement without a reservation
// and every entry without a job id that falls in the day.
func Spent(ledger []LedgerEntry, start, end time.Time) float64 {
	type charge struct {
		reservedAt, settledAt time.Time
		reserved, settled     float64
		hasReserve, hasSettle bool
	}
	in := func(t time.Time) bool { return !t.Before(start) && t.Before(end) }
	jobs := map[string]*charge{}
	var loose float64
	for i := range ledger {
		e := &ledger[i]
		if e.JobID == "" {
			if in(e.At) {
				loose += e.Units
			}
			continue
		}
		c := jobs[e.JobID]
		if c == nil {
			c = &charge{}
			jobs[e.JobID] = c
		}
		switch e.Kind {
		case LedgerReserve:
			// A second reservation of the same job (a retry) moves it.
			if !c.hasReserve || e.At.After(c.reservedAt) {
				c.reservedAt, c.reserved, c.hasReserve = e.At, e.Units, true
			}
		case LedgerSettle:
			if !c.hasSettle || !e.At.Before(c.settledAt) {
				c.settledAt, c.settled, c.hasSettle = e.At, e.Units, true
			}
		}
	}
	// Sum in job order: a float sum in map order could differ in its last
	// bit from one decision to the next.
	ids := slices.Sorted(maps.Keys(jobs))
	total := loose
	for _, id := range ids {
		c := jobs[id]
		day, amount := c.reservedAt, c.reserved
		if !c.hasReserve {
			day = c.settledAt
		}
		if c.hasSettle {
			amount = c.settled
		}
		if in(day) {
			total += amount
		}
	}
	return total
}

// budget computes the view before any admission.
func budget(cfg *Config, now time.Time, ledger []LedgerEntry) (BudgetView, error) {
	loc, err := time.LoadLocation(cfg.Scheduler.BudgetTimeZone)
	if err != nil {
		return BudgetView{}, err
	}
	start, end := budgetDay(now, loc)
	spent := Spent(ledger, start, end)
	return BudgetView{
		TimeZone:  cfg.Scheduler.BudgetTimeZone,
		Day:       start.Format(time.DateOnly),
		DayStart:  start,
		DayEnd:    end,
		Limit:     cfg.Scheduler.DailyBudget,
		Spent:     spent,
		Remaining: cfg.Scheduler.DailyBudget - spent,
	}, nil
}
