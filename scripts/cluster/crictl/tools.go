//go:build tools

// The command cluster.sh builds; importing it here keeps its dependencies in
// go.mod and go.sum.
package crictl

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
