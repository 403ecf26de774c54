package main

import (
	"bufio"
	"fmt"

	"github.com/spf13/cobra"
)

func newReportCmd(e *env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "report runs|live|deployments FILE|-",
		Short: "Post training runs, live observations or deployments to the daemon",
		Long: `Post records from FILE (or standard input for "-") through the API.

runs and deployments take one JSON object or a JSON array. live takes a
JSON array or NDJSON (one object per line); the format is detected from the
first character. A batch is stored whole or not at all; records already
stored under the same key are counted as duplicates.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := args[0]
			switch kind {
			case "runs", "live", "deployments":
			default:
				return usageError{fmt.Errorf("report: %q is not one of runs, live, deployments", kind)}
			}
			in, err := openInput(e, args[1])
			if err != nil {
				return err
			}
			defer in.Close()
			br := bufio.NewReaderSize(in, 64<<10)
			ctype := "application/json"
			if kind == "live" && !startsWithArray(br) {
				ctype = "application/x-ndjson"
			}
			res, err := cf.client().Report(cmd.Context(), kind, br, ctype)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "accepted %d, updated %d, duplicates %d\n", res.Accepted, res.Updated, res.Duplicates)
			return nil
		},
	}
	cf.register(cmd, e)
	return cmd
}

// startsWithArray reports whether the first non-space byte is '['. It
// peeks one byte at a time so that a slow stream is not held up.
func startsWithArray(br *bufio.Reader) bool {
	for n := 1; n <= br.Size(); n++ {
		b, err := br.Peek(n)
		if err != nil {
			return false
		}
		switch b[n-1] {
		case ' ', '\t', '\r', '\n':
			continue
		case '[':
			return true
		default:
			return false
		}
	}
	return false
}
