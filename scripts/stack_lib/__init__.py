"""Helpers for scripts/stack: the one-command local pimap cluster (see docs/local-cluster.md).

One module per component (tls, dovecot, redis_server, kafka, postfix, kannel, pimap_services),
plus the shared plumbing: core (context, errors, waiting), ports (free-port blocks) and procs
(detached processes recorded in DIR/pids.json, and their teardown).
"""
