package dashboard

import (
	"net/http"
	"time"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// planRows bounds the candidates listed: at 10,000 models thousands are
// raised, and the admitted ones and the best of the rest come first.
const planRows = 200

type planData struct {
	Have     bool
	At       time.Time
	Plan     *orchestrator.Plan
	Rows     []priorityRow
	Total    int
	Factors  []string
	Admitted int
	Loop     flywheel.LoopState
}

func (s *server) planPage(r *http.Request) (any, error) {
	d := &planData{Factors: factorNames}
	var err error
	if d.Loop, err = s.store.LoopState(r.Context()); err != nil {
		return nil, err
	}
	if s.plan == nil {
		return d, nil
	}
	p, at, err := s.plan.get(r.Context())
	if err != nil {
		return nil, err
	}
	d.Have, d.At, d.Plan, d.Total = true, at, p, len(p.Candidates)
	d.Rows = topRows(p, planRows)
	for _, c := range p.Candidates {
		if c.Admitted {
			d.Admitted++
		}
	}
	return d, nil
}
