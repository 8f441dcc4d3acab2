//go:build tools

// The command cluster.sh builds; importing it here keeps its dependencies in
// go.mod and go.sum.
package coredns

import _ "github.com/coredns/coredns"
