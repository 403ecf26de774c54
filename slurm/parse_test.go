package slurm

import (
	"strings"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

func TestMapState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state   string
		exit    int
		want    flywheel.JobState
		failure flywheel.FailureClass
	}{
		{"PENDING", -1, flywheel.JobSubmitted, ""},
		{"REQUEUED", -1, flywheel.JobSubmitted, ""},
		{"RUNNING", -1, flywheel.JobRunning, ""},
		{"CONFIGURING", -1, flywheel.JobRunning, ""},
		{"COMPLETING", -1, flywheel.JobRunning, ""},
		{"SUSPENDED", -1, flywheel.JobRunning, ""},
		{"COMPLETED", 0, flywheel.JobSucceeded, ""},
		{"COMPLETED", 2, flywheel.JobFailed, flywheel.FailureCommand},
		{"FAILED", 1, flywheel.JobFailed, flywheel.FailureCommand},
		{"OUT_OF_MEMORY", 0, flywheel.JobFailed, flywheel.FailureOOM},
		{"TIMEOUT", 0, flywheel.JobFailed, flywheel.FailureTimeout},
		{"DEADLINE", 0, flywheel.JobFailed, flywheel.FailureTimeout},
		{"PREEMPTED", 0, flywheel.JobFailed, flywheel.FailurePreempted},
		{"NODE_FAIL", 0, flywheel.JobFailed, flywheel.FailureNodeFailure},
		{"BOOT_FAIL", 0, flywheel.JobFailed, flywheel.FailureNodeFailure},
		{"CANCELLED by 0", 0, flywheel.JobCancelled, ""},
		{"CANCELLED+", 0, flywheel.JobCancelled, ""},
		{"SOMETHING_NEW", -1, flywheel.JobRunning, ""},
	}
	for _, tt := range tests {
		got, failure := MapState(tt.state, tt.exit)
		if got != tt.want || failure != tt.failure {
			t.Errorf("MapState(%q, %d) = %s %q, want %s %q", tt.state, tt.exit, got, failure, tt.want, tt.failure)
		}
	}
}

func TestParseSqueue(t *testing.T) {
	t.Parallel()
	out := "12|fw-job-1|PENDING|JobHeldUser|N/A\n13|fw-job-2|RUNNING|None|2026-11-26T12:38:56\n"
	rows, err := parseSqueue(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	if r := rows[0]; r.ID != "12" || r.Name != "fw-job-1" || r.State != "PENDING" || r.Reason != "JobHeldUser" || r.Start != nil {
		t.Errorf("row 0 = %+v", r)
	}
	want := time.Date(2026, 11, 26, 12, 38, 56, 0, time.Local).UTC()
	if r := rows[1]; r.Start == nil || !r.Start.Equal(want) {
		t.Errorf("row 1 start = %v, want %v", r.Start, want)
	}
	for _, bad := range []string{"12|fw|PENDING\n", "x|fw|PENDING|r|N/A\n"} {
		if _, err := parseSqueue(bad); err == nil {
			t.Errorf("parseSqueue(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseSacct(t *testing.T) {
	t.Parallel()
	out := strings.Join([]string{
		"7|fw-job-1|COMPLETED|0:0|2026-11-26T12:38:56|fwd_ret_5d_AAPL/ridge",
		"8|fw-job-2|CANCELLED by 0|0:15|Unknown|a/b|with a pipe",
		"9_1|array|COMPLETED|0:0|None|",
		"",
	}, "\n")
	rows, err := parseSacct(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2 (array steps skipped)", len(rows))
	}
	if r := rows[0]; r.ID != "7" || r.State != "COMPLETED" || r.ExitCode != "0:0" || r.Comment != "fwd_ret_5d_AAPL/ridge" || r.Start == nil {
		t.Errorf("row 0 = %+v", r)
	}
	if r := rows[1]; r.Comment != "a/b|with a pipe" || r.Start != nil {
		t.Errorf("row 1 = %+v, want the comment whole and no start", r)
	}
	if _, err := parseSacct("1|x|COMPLETED\n"); err == nil {
		t.Errorf("parseSacct of a short line succeeded, want an error")
	}
}

func TestParseExit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		code, sig int
		ok        bool
	}{
		{"0:0", 0, 0, true},
		{"3:0", 3, 0, true},
		{"0:9", 0, 9, true},
		{"", 0, 0, false},
		{"x:y", 0, 0, false},
	}
	for _, tt := range tests {
		code, sig, ok := parseExit(tt.in)
		if code != tt.code || sig != tt.sig || ok != tt.ok {
			t.Errorf("parseExit(%q) = %d %d %v, want %d %d %v", tt.in, code, sig, ok, tt.code, tt.sig, tt.ok)
		}
	}
}

// TestSbatchArgs checks the options a job's resources become.
func TestSbatchArgs(t *testing.T) {
	t.Parallel()
	e, err := New(Config{Command: "train {target}", StateDir: t.TempDir(), Partition: "gpu", ExtraArgs: []string{"--qos=low"}})
	if err != nil {
		t.Fatal(err)
	}
	j := flywheel.Job{ID: "job-1", ModelKey: flywheel.ModelKey{Target: "t1", ModelFamily: "ridge"},
		Resources: flywheel.Resources{CPUCores: 4, MemoryMB: 3000, GPUs: 2}, EstimatedSeconds: 100}
	got := strings.Join(e.sbatchArgs(j, "/d"), " ")
	for _, want := range []string{"--parsable", "--hold", "--job-name=fw-job-1", "--comment=t1/ridge", "--cpus-per-task=4",
		"--mem=3000M", "--gres=gpu:2", "--time=5", "--output=/d/slurm-%j.log", "--chdir=/d", "--partition=gpu", "--qos=low"} {
		if !strings.Contains(" "+got+" ", " "+want+" ") {
			t.Errorf("sbatch args %q lack %q", got, want)
		}
	}
	j.Resources = flywheel.Resources{}
	got = strings.Join(e.sbatchArgs(j, "/d"), " ")
	if strings.Contains(got, "--gres") || strings.Contains(got, "--mem") || !strings.Contains(got, "--cpus-per-task=1") {
		t.Errorf("sbatch args without resources %q: want one CPU, no --mem, no --gres", got)
	}
}

// TestScript checks the batch script: the contract's environment, the
// result path from the Slurm id, and the command quoted.
func TestScript(t *testing.T) {
	t.Parallel()
	e, err := New(Config{Command: `python train.py --target {target} --note "it's {model_family}"`, StateDir: "/s",
		API: "http://h:8080", Token: "t0k", ConfigDir: "/conf"})
	if err != nil {
		t.Fatal(err)
	}
	j := flywheel.Job{ID: "job-1", ModelKey: flywheel.ModelKey{Target: "t1", ModelFamily: "ridge"}}
	s := e.script(j, "/s/fw-job-1")
	for _, want := range []string{
		"export FLYWHEEL_JOB_ID=job-1\n", "export FLYWHEEL_API=http://h:8080\n", "export FLYWHEEL_TOKEN=t0k\n",
		"export FLYWHEEL_TARGET=t1\n", "export FLYWHEEL_MODEL_FAMILY=ridge\n", "export FLYWHEEL_CONFIG_DIR=/conf\n",
		`export FLYWHEEL_RESULT=/s/fw-job-1/result-"$SLURM_JOB_ID".json` + "\n",
		`exec python train.py --target t1 --note 'it'\''s ridge'` + "\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}
