package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/httpapi"
)

// env is what every command may use from the process around it, passed in
// so that tests can run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// run executes the command line args and returns the exit code: 0 on
// success, 1 on failure, 2 on a usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "flywheel: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "flywheel: %s\n", describe(err))
	return 1
}

// usageError marks a mistake in the command line itself.
type usageError struct{ error }

// describe renders an error for a person: an API error shows its record
// index and field first.
func describe(err error) string {
	var fe *flywheel.Error
	if !errors.As(err, &fe) {
		return err.Error()
	}
	switch fe.Code {
	case flywheel.EUnauthorized:
		return fe.Error() + " (pass --token or set $FLYWHEEL_TOKEN)"
	case flywheel.EForbidden:
		return fe.Error() + " (the token's role does not allow this)"
	}
	return fe.Error()
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "flywheel",
		Short:         "Close the loop between model training and live trading",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newServeCmd(e),
		newReportCmd(e),
		newStatusCmd(e),
		newVersionCmd(e),
		newConfigCmd(e),
		newBenchCmd(e),
		newDemoCmd(e),
		newInsightsCmd(e),
		newAllocateCmd(e),
		newRegimesCmd(e),
		newJobsCmd(e),
		newSignalsCmd(e),
		newPlanCmd(e),
		newHealthCmd(e),
		newTrainCmd(e),
		newBacktestCmd(e),
		newPinCmd(e),
	)
	root.AddCommand(newLoopCmds(e)...)
	return root
}

// clientFlags are the flags of every command that talks to the daemon.
type clientFlags struct {
	api   string
	token string
}

func (f *clientFlags) register(cmd *cobra.Command, e *env) {
	api := e.getenv("FLYWHEEL_API")
	if api == "" {
		api = "http://127.0.0.1:8080"
	}
	cmd.Flags().StringVar(&f.api, "api", api, "daemon URL (default $FLYWHEEL_API, else http://127.0.0.1:8080)")
	cmd.Flags().StringVar(&f.token, "token", e.getenv("FLYWHEEL_TOKEN"), "bearer token (default $FLYWHEEL_TOKEN)")
}

func (f *clientFlags) client() *httpapi.Client {
	return httpapi.NewClient(f.api, f.token, nil)
}

// openInput opens FILE, or standard input for "-".
func openInput(e *env, name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(e.stdin), nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}
