//go:build !unix

package propagate

import (
	"context"
	"os"
)

// flockFile is a no-op where flock does not exist: the in-process mutex
// still serialises one daemon's writes, but two processes sharing a
// config directory are not protected from each other.
func flockFile(context.Context, *os.File) (func(), error) { return func() {}, nil }
