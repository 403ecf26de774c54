package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/httpapi"
	"github.com/flywheel-ml/flywheel/sqlite"
)

func newBenchCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure flywheel on this machine",
	}
	var o ingestBench
	ingest := &cobra.Command{
		Use:   "ingest",
		Short: "Compare ingest through the HTTP API with raw SQLite inserts, side by side",
		Long: `Insert the same N live observations (a) through a real daemon's HTTP API
in batches and (b) straight into SQLite through the same driver with a
prepared single-row INSERT, one transaction per batch. The two paths
alternate batch by batch so that machine noise hits both alike. Then it
reads the daemon's peak RSS and times the live summary of single models.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), e.stdout)
		},
	}
	ingest.Flags().IntVar(&o.n, "n", 1_000_000, "observations to insert on each path")
	ingest.Flags().IntVar(&o.batch, "batch", 10_000, "observations per batch")
	ingest.Flags().IntVar(&o.models, "models", 1_000, "models the observations spread over")
	ingest.Flags().IntVar(&o.queries, "queries", 200, "live summary queries to time")
	ingest.Flags().StringVar(&o.dir, "dir", "", "directory for the databases (default: a temporary one, removed after)")
	cmd.AddCommand(ingest, newBenchCILSCmd(e), newBenchDecideCmd(e))
	return cmd
}

type ingestBench struct {
	n, batch, models, queries int
	dir                       string
	// exe is the flywheel binary to run the daemon from; empty means this one.
	exe string
	// daemonLog receives the daemon's log; nil means standard error.
	daemonLog io.Writer
}

func (o *ingestBench) run(ctx context.Context, out io.Writer) error {
	if o.n < 1 || o.batch < 1 || o.models < 1 {
		return usageError{errors.New("bench ingest: --n, --batch and --models must be positive")}
	}
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "flywheel-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	d, err := startDaemon(ctx, o.exe, filepath.Join(dir, "api.db"), o.daemonLog)
	if err != nil {
		return err
	}
	defer d.stop()
	raw, err := sqlite.Open(ctx, filepath.Join(dir, "raw.db"), sqlite.Options{})
	if err != nil {
		return err
	}
	defer raw.Close()

	fmt.Fprintf(out, "ingest of %d live observations in batches of %d over %d models\n", o.n, o.batch, o.models)
	var apiTime, rawTime time.Duration
	for start := 0; start < o.n; start += o.batch {
		obs := benchObservations(start, min(o.batch, o.n-start), o.models)
		t0 := time.Now()
		res, err := d.client.PostObservations(ctx, obs)
		if err != nil {
			return fmt.Errorf("api batch at %d: %w", start, err)
		}
		if res.Accepted != len(obs) {
			return fmt.Errorf("api batch at %d: accepted %d of %d", start, res.Accepted, len(obs))
		}
		t1 := time.Now()
		if err := raw.InsertObservationsRaw(ctx, obs); err != nil {
			return fmt.Errorf("raw batch at %d: %w", start, err)
		}
		apiTime += t1.Sub(t0)
		rawTime += time.Since(t1)
	}
	apiRate := float64(o.n) / apiTime.Seconds()
	rawRate := float64(o.n) / rawTime.Seconds()
	fmt.Fprintf(out, "  %-34s %9.2f s %12.0f obs/s\n", "api: HTTP POST /api/v1/live", apiTime.Seconds(), apiRate)
	fmt.Fprintf(out, "  %-34s %9.2f s %12.0f obs/s\n", "raw: SQLite prepared INSERT", rawTime.Seconds(), rawRate)
	fmt.Fprintf(out, "  %-34s %9.2f   (goal >= 0.5)\n", "ratio api/raw", apiRate/rawRate)

	if rss, err := peakRSS(d.cmd.Process.Pid); err == nil {
		fmt.Fprintf(out, "daemon peak RSS (VmHWM) %.0f MB   (goal < 200 MB)\n", float64(rss)/(1<<20))
	} else {
		fmt.Fprintf(out, "daemon peak RSS: %v\n", err)
	}
	return o.summaries(ctx, out, d.client)
}

// summaries times GET .../live for random models, through the API.
func (o *ingestBench) summaries(ctx context.Context, out io.Writer, c *httpapi.Client) error {
	rng := rand.New(rand.NewPCG(7, 7))
	lat := make([]time.Duration, 0, o.queries)
	for range o.queries {
		k := benchModel(rng.IntN(o.models))
		t0 := time.Now()
		s, err := c.LiveSummary(ctx, k, time.Time{}, time.Time{})
		if err != nil {
			return fmt.Errorf("live summary of %s: %w", k, err)
		}
		lat = append(lat, time.Since(t0))
		if s.Observations == 0 {
			return fmt.Errorf("live summary of %s: no observations", k)
		}
	}
	if len(lat) == 0 {
		return nil
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	fmt.Fprintf(out, "live summary of one model of %d over %d observations, through the API: p50 %.2f ms, p99 %.2f ms, max %.2f ms   (goal < 50 ms)\n",
		o.models, o.n, q(0.5), q(0.99), q(1))
	return nil
}

var benchBase = time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC)

func benchModel(i int) flywheel.ModelKey {
	return flywheel.ModelKey{Target: "fwd_ret_5d_S" + strconv.Itoa(i), ModelFamily: "ridge"}
}

// benchObservations returns observations start..start+n-1; observation i
// belongs to model i mod models, one a minute per model.
func benchObservations(start, n, models int) []flywheel.Observation {
	rng := rand.New(rand.NewPCG(uint64(start), 1))
	obs := make([]flywheel.Observation, n)
	for j := range obs {
		i := start + j
		pos, exp := rng.NormFloat64(), rng.NormFloat64()*0.001
		obs[j] = flywheel.Observation{
			EventID:      "ev-" + strconv.Itoa(i),
			TS:           benchBase.Add(time.Duration(i/models) * time.Minute),
			ModelKey:     benchModel(i % models),
			ModelVersion: "v1",
			Symbol:       "S" + strconv.Itoa(i%models),
			PnL:          rng.NormFloat64() * 0.01,
			Position:     &pos,
			ExpectedPnL:  &exp,
		}
	}
	return obs
}

// daemon is a `flywheel serve` child process.
type daemon struct {
	cmd    *exec.Cmd
	client *httpapi.Client
	addr   string
}

// startDaemon starts exe (this binary when empty) as a daemon on a free
// loopback port, its log going to log, and waits until it is ready.
func startDaemon(ctx context.Context, exe, db string, log io.Writer, args ...string) (*daemon, error) {
	if exe == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		exe = self
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append([]string{"serve", "--db", db, "--listen", addr}, args...)...)
	cmd.Env = append(os.Environ(), "FLYWHEEL_LOG_LEVEL=warn")
	cmd.Stderr = log
	if log == nil {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	d := &daemon{cmd: cmd, addr: addr, client: httpapi.NewClient("http://"+addr, "", nil)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := d.client.Healthz(ctx); err == nil {
			return d, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			d.stop()
			return nil, fmt.Errorf("daemon on %s did not become ready", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemon) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// peakRSS reads the resident set high-water mark of a process, in bytes.
func peakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}
