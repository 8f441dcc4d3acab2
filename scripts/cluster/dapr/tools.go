//go:build tools

// The commands cluster.sh builds; importing them here keeps their
// dependencies in go.mod and go.sum.
package dapr

import (
	_ "github.com/dapr/dapr/cmd/injector"
	_ "github.com/dapr/dapr/cmd/operator"
	_ "github.com/dapr/dapr/cmd/placement"
	_ "github.com/dapr/dapr/cmd/scheduler"
	_ "github.com/dapr/dapr/cmd/sentry"
)
