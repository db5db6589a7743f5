"""Prometheus metrics: this process's counters, and gauges read from the database at scrape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry()
TIMERS_FIRED = Counter("aduan_timers_fired_total", "Timers fired by this process",
                       registry=REGISTRY)
TIMER_FAILURES = Counter("aduan_timer_failures_total",
                         "Timer firings that ended in an incident", registry=REGISTRY)
TIMER_LATENESS = Histogram(
    "aduan_timer_lateness_seconds", "From a timer's due time to its committed firing",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600), registry=REGISTRY)
NOTIFICATIONS_SENT = Counter("aduan_notifications_sent_total",
                             "Notifications delivered by this process", registry=REGISTRY)
NOTIFICATIONS_FAILED = Counter("aduan_notifications_failed_total",
                               "Delivery attempts that failed (retried or dead)",
                               registry=REGISTRY)


class DatabaseCollector(Collector):
    """Gauges every process reports alike, because they come from the shared database."""

    def __init__(self, read_status: Any, read_escalations: Any) -> None:
        self.read_status = read_status
        self.read_escalations = read_escalations

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = self.read_status()
        timers = status["timers"]
        yield _gauge("aduan_timers_waiting", "Waiting timers", timers["waiting"])
        yield _gauge("aduan_timers_due_next_hour", "Timers due in the next hour",
                     timers["due_next_hour"])
        yield _gauge("aduan_timer_overdue_seconds", "Lateness of the oldest due timer",
                     timers["overdue_lateness_seconds"])
        outbox = status["outbox"]
        yield _gauge("aduan_outbox_pending", "Notifications waiting to be sent", outbox["pending"])
        yield _gauge("aduan_outbox_dead", "Notifications given up on", outbox["dead"])
        yield _gauge("aduan_incidents_open", "Instances in error", status["incidents"]["open"])
        alive = sum(1 for s in status["schedulers"] if s["alive"])
        yield _gauge("aduan_schedulers_alive", "Schedulers with a recent heartbeat", alive)
        family = GaugeMetricFamily("aduan_escalations", "Escalations by rung and status",
                                   labels=["rung", "status"])
        for (rung, state), count in self.read_escalations().items():
            family.add_metric([rung, state], count)
        yield family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def exposition(collector: DatabaseCollector | None) -> bytes:
    registry = CollectorRegistry()
    if collector is not None:
        registry.register(collector)
    return generate_latest(REGISTRY) + generate_latest(registry)
