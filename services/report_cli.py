"""`interdept reports schedule`: generating report cycles by hand (beat does it daily)."""
from __future__ import annotations

from datetime import date

import click


def register_cli(main: click.Group) -> None:
    @main.group()
    def reports() -> None:
        """Progress reports."""

    @reports.command("schedule")
    @click.option("--today", default=None, help="Local date YYYY-MM-DD to schedule as of (default: today).")
    @click.option("--year", type=int, default=None, help="Only this program year.")
    @click.option("--program", default=None, help="Only this program (slug).")
    def schedule(today: str | None, year: int | None, program: str | None) -> None:
        """Create the report cycles that are due (idempotent: existing ones are kept)."""
        from services.bootstrap import bootstrap
        from services.reports import run_schedule

        try:
            as_of = date.fromisoformat(today) if today else None
        except ValueError:
            raise click.BadParameter(f"not a date: {today!r}", param_hint="--today") from None
        services = bootstrap(eager=True)
        count = run_schedule(services, as_of, year=year, program=program)
        click.echo(f"report cycles created: {count}")

