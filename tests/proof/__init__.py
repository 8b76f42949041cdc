"""Load and fault proofs against the real daemon (issue 8, part 1).

Each proof has a quick version in `make test` and a long one behind the `soak`
marker (`make soak`, which prints the figures): load (test_load), kill -9 at
random moments (test_kill9), misbehaving clients and file descriptors
(test_clients), queue order under merging (test_merge_order). The faults of
single tool runs and the full disk are in tests/daemon/test_faults.py. The
records every proof is checked against are read by records.py.
"""
