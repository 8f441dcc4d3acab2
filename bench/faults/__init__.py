"""Load and fault campaign: the whole distributed stack under load while its
parts are killed, then invariants checked against the databases and the
streams the users saw. `python -m bench.faults` (or `make bench-faults`)."""
