"""First start (issue 14, item 7): `interdept seed` opens the report cycles due now, the hourly job agrees.

The demo program runs 2014–2020 and today is long after it, so "due now" means its last reporting
year: the 2020 quarterly reports, the 2020 annual report and the 2019 annual report (due in 2020).
Due dates by hand (quarterly on the 20th of the next month, annual on 1 March, a day off moving on):
  2019:    Sun 01.03.2020 -> Mon 02.03.2020
  2020-Q1: Mon 20.04.2020    2020-Q2: Mon 20.07.2020    2020-Q3: Tue 20.10.2020
  2020:    Mon 01.03.2021
"""
from __future__ import annotations

from datetime import date

from click.testing import CliRunner
from sqlalchemy import select

from services.bootstrap import bootstrap
from services.cli import main
from services.models.reports import Report
from services.reports import run_schedule, schedule_cycles
from tests.conftest import make_settings

DUE_NOW = {
    "2019": ("annual", date(2020, 3, 2)),
    "2020-Q1": ("quarterly", date(2020, 4, 20)),
    "2020-Q2": ("quarterly", date(2020, 7, 20)),
    "2020-Q3": ("quarterly", date(2020, 10, 20)),
    "2020": ("annual", date(2021, 3, 1)),
}


def _cycles(services) -> dict[str, tuple[str, date, str]]:
    with services.uow() as uow:
        return {r.period: (r.kind, r.due_date, r.state)
                for r in uow.session.execute(select(Report)).unique().scalars()}


def test_seed_opens_the_last_reporting_years_cycles_and_the_hourly_job_adds_none(tmp_path):
    env = {"INTERDEPT_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path}/first.sqlite3"}
    runner = CliRunner()
    result = runner.invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["seed"], env=env)
    assert result.exit_code == 0, result.output
    assert "report cycles created: 5" in result.output

    services = bootstrap(make_settings(tmp_path, env["DATABASE_URL"]), eager=True)
    try:
        cycles = _cycles(services)
        assert cycles == {p: (kind, due, "draft") for p, (kind, due) in DUE_NOW.items()}
        # What beat runs every hour (workers.tasks.schedule_reports), then the CLI and seed again.
        assert run_schedule(services) == 0
        result = runner.invoke(main, ["reports", "schedule"], env=env)
        assert result.exit_code == 0 and "report cycles created: 0" in result.output, result.output
        result = runner.invoke(main, ["seed"], env=env)
        assert result.exit_code == 0 and "report cycles created: 0" in result.output, result.output
        assert _cycles(services) == cycles
        # Older cycles only when asked for.
        result = runner.invoke(main, ["reports", "schedule", "--year", "2019"], env=env)
        assert "report cycles created: 3" in result.output, result.output  # 2019-Q1..Q3; the annual exists
        assert set(_cycles(services)) == set(DUE_NOW) | {"2019-Q1", "2019-Q2", "2019-Q3"}
    finally:
        services.dispose()


def test_the_hourly_job_opens_each_cycle_as_its_period_begins_and_never_twice(svc):
    # A running program: on 01.06.2017 this year's begun reports and last year's annual report.
    assert run_schedule(svc, date(2017, 6, 1)) == 4
    assert set(_cycles(svc)) == {"2016", "2017-Q1", "2017-Q2", "2017"}
    assert run_schedule(svc, date(2017, 6, 1)) == 0
    # Q3 begins on 01.07; on 02.01.2018 Q1 2018 and the 2018 annual report begin.
    assert run_schedule(svc, date(2017, 7, 1)) == 1
    assert run_schedule(svc, date(2018, 1, 2)) == 2
    assert set(_cycles(svc)) == {"2016", "2017-Q1", "2017-Q2", "2017-Q3", "2017", "2018-Q1", "2018"}
    # Nothing before the program's first year has begun.
    with svc.uow() as uow:
        assert schedule_cycles(uow, svc, date(2013, 12, 31)) == []
