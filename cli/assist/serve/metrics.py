"""GET /metrics: the queues and recent errors in the Prometheus text format (prometheus_client)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import monitor


def render(backend: Any, log_folder: Path) -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily

    class Snapshot:
        def collect(self) -> Any:
            rows = monitor.queues(backend)
            tasks = GaugeMetricFamily("assist_queue_tasks", "Tasks in each queue and state", labels=["queue", "state"])
            ready = GaugeMetricFamily("assist_queue_ready", "Tasks ready to be claimed", labels=["queue"])
            done = GaugeMetricFamily("assist_queue_done_last_minute", "Tasks finished in the last minute",
                                     labels=["queue"])
            for row in rows:
                for state, count in row["depth"].items():
                    tasks.add_metric([row["name"], state], count)
                ready.add_metric([row["name"]], row["ready"])
                done.add_metric([row["name"]], row["done_per_min_1m"])
            records = monitor.problems(log_folder)
            rates = monitor.rates(rows, records)
            failing = GaugeMetricFamily("assist_failed_attempts_per_minute",
                                        "Retries and failures per minute over the last five minutes")
            failing.add_metric([], rates["failed_attempts_per_min"])
            errors = GaugeMetricFamily("assist_log_errors_recent", "Recent warning and error records",
                                       labels=["component"])
            for component, latest in monitor.errors_by_component(records, per_component=1000).items():
                errors.add_metric([component], len(latest))
            yield from (tasks, ready, done, failing, errors)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot())
    return generate_latest(registry), CONTENT_TYPE_LATEST
