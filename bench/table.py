"""The one table `make bench` prints: every level's rates, latencies, lag and both references.

Kept apart from the harness so it can be checked on tiny inputs without running anything.
Column meanings are documented in docs/benchmarks.md.
"""
from __future__ import annotations

from dataclasses import dataclass

DASH = "—"


@dataclass
class LevelResult:
    """One row: an HTTP level (label = its client count) or the pipeline-only level."""

    label: str
    lifecycles: int
    transitions_per_s: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    lag_p50: float | None = None
    lag_p99: float | None = None
    events: int = 0
    events_per_s: float | None = None
    emails: int = 0
    emails_per_s: float | None = None
    errors: int = 0
    drained: bool = True
    pg_tps: float | None = None
    floor_rps: float | None = None
    floor_errors: int = 0

    @property
    def ratio(self) -> float | None:
        """Service transitions/s over PostgreSQL's own rate for the same writes."""
        return _ratio(self.transitions_per_s, self.pg_tps)

    @property
    def floor_ratio(self) -> float | None:
        """Service transitions/s over the floor app's transitions/s (same generator, same gunicorn)."""
        return _ratio(self.transitions_per_s, self.floor_rps)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _ms(value: float | None) -> str:
    return DASH if value is None else f"{value * 1000:.0f}"


def _num(value: float | None, digits: int = 0) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


HEAD = ("level", "lifecycles", "trans/s", "p50 ms", "p95 ms", "p99 ms", "lag p50 ms", "lag p99 ms",
        "events", "events/s", "emails", "emails/s", "errors", "PG tx/s", "/PG", "floor tr/s", "/floor")


def row(r: LevelResult) -> tuple[str, ...]:
    return (r.label, str(r.lifecycles), _num(r.transitions_per_s, 1), _ms(r.p50), _ms(r.p95), _ms(r.p99),
            _ms(r.lag_p50), _ms(r.lag_p99), str(r.events), _num(r.events_per_s, 1), str(r.emails),
            _num(r.emails_per_s, 1), str(r.errors) + ("" if r.drained else " (not drained)"),
            _num(r.pg_tps), _num(r.ratio, 2), _num(r.floor_rps) + (f" ({r.floor_errors} errors)" if r.floor_errors else ""),
            _num(r.floor_ratio, 2))


def format_table(results: list[LevelResult]) -> str:
    """A Markdown table, numbers right-aligned, ready to paste into docs/benchmarks.md."""
    rows = [HEAD, *(row(r) for r in results)]
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(HEAD))]
    lines = ["| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |" for cells in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


LEGEND = """\
level: concurrent HTTP clients, or "pipeline" (a pre-filled outbox drained by the workers, no HTTP load);
trans/s: transitions per second over HTTP (3 per lifecycle); p50/p95/p99: HTTP latency of each call;
lag: outbox row created -> each handler's mark; events, emails: handled in the level;
events/s, emails/s: those counts over the time from the level's first event to its last mark or email;
PG tx/s: the same writes straight to PostgreSQL; /PG: trans/s over it;
floor tr/s: the minimal Flask app (bench/floor_app.py), same generator, gunicorn and clients; /floor: trans/s over it."""


def format_memory(memory: dict[str, list[float]]) -> str:
    labels = {"web": "gunicorn (master, then workers)", "worker": "celery worker (parent, then pool)",
              "beat": "celery beat", "floor": "floor app gunicorn (master, then workers)"}
    return "\n".join(f"  {labels.get(name, name)}: " + ", ".join(f"{v:.0f}" for v in values) + " MiB RSS"
                     for name, values in memory.items())
