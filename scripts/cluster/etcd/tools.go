//go:build tools

// The command cluster.sh builds; importing it here keeps its dependencies in
// go.mod and go.sum.
package etcd

import _ "go.etcd.io/etcd/server/v3"
