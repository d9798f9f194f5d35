"""Prometheus metrics of every process (docs/observability.md lists them all).

One module per concept, each defining its metrics on prometheus_client's process-wide
registry when first imported, so any process may import any of them (they import
nothing of ours that does I/O but `task_records`, which reads the database):

- `labels`: how a label value is kept to a bounded set;
- `http`: the API's requests and the outages it answers 503 for;
- `tasks`: task starts and ends, phase durations, approval waits, interventions and
  judge verdicts;
- `task_records`: those task metrics, observed from a stored record (activities/records.py);
- `executor`: agent and gate run times, active runs;
- `inference`: tokens, time to first token and tokens/s per model;
- `exposition`: the HTTP endpoint of the worker and the executors;
- `temporal_sdk`: the Temporal SDK's own metrics, on a port of their own.
"""

from prometheus_client import disable_created_metrics

# No `<counter>_created` series: one more series per label set, that Prometheus does not
# use (it tracks resets itself), in every process that imports a metric.
disable_created_metrics()
