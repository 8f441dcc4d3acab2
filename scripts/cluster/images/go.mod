// The small programs behind the cluster's own images: the pod sandbox
// (todo-app/pause:local) and the smoke-check probe (todo-app/probe:local).
// Standard library only.
module todo-app/cluster/images

go 1.24.0
