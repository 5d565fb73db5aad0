"""Deadlines in working days: counting rules, pauses, extensions, explanations."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from config.calendar import load_production_calendar
from workflows.deadlines import (
    Deadline,
    Extension,
    Pause,
    compute_deadline,
    due_date_for_rule,
    is_overdue,
)

MSK = ZoneInfo("Europe/Moscow")
UTC = timezone.utc


@pytest.fixture(scope="module")
def cal():
    return load_production_calendar()


def msk(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=MSK)


def test_five_working_days_from_a_friday(cal):
    deadline = compute_deadline(cal, msk(2025, 3, 14), 5, MSK)
    assert deadline.due_date == date(2025, 3, 21)
    assert not deadline.paused
    assert deadline.remaining_working_days is None
    assert "14.03.2025" in deadline.explanation
    assert "15.03.2025" in deadline.explanation  # counting starts the day after sending
    assert "21.03.2025" in deadline.explanation


def test_sending_date_is_taken_in_the_local_time_zone(cal):
    # 22:30 UTC on Thursday is already Friday 01:30 in Moscow.
    deadline = compute_deadline(cal, datetime(2025, 3, 13, 22, 30, tzinfo=UTC), 5, MSK)
    assert deadline.due_date == date(2025, 3, 21)


def test_from_the_day_before_the_new_year_holidays(cal):
    deadline = compute_deadline(cal, msk(2025, 12, 30), 5, MSK)
    assert deadline.due_date == date(2026, 1, 16)
    assert "Новогодние каникулы" in deadline.explanation
    assert "Рождество Христово" in deadline.explanation
    assert "31.12.2025" in deadline.explanation


def test_sent_on_a_day_off(cal):
    # Sent on 1 January: the first day counted is the first working day after it.
    deadline = compute_deadline(cal, msk(2025, 1, 1), 1, MSK)
    assert deadline.due_date == date(2025, 1, 9)


def test_a_working_saturday_is_counted(cal):
    deadline = compute_deadline(cal, msk(2025, 10, 30), 5, MSK)
    # 31.10 (1), Sat 01.11 (2), 05.11 (3), 06.11 (4), 07.11 (5)
    assert deadline.due_date == date(2025, 11, 7)


def test_explanation_names_the_skipped_holidays(cal):
    deadline = compute_deadline(cal, msk(2025, 4, 30), 5, MSK)
    assert deadline.due_date == date(2025, 5, 13)
    text = deadline.explanation
    assert "Праздник Весны и Труда" in text
    assert "День Победы" in text
    assert "перенесено с 04.01.2025" in text
    assert "13.05.2025" in text


def test_due_at_is_the_last_second_of_the_day_in_moscow(cal):
    deadline = compute_deadline(cal, msk(2025, 3, 14), 5, MSK)
    assert deadline.due_at == datetime(2025, 3, 21, 20, 59, 59, tzinfo=UTC)
    assert deadline.due_at.utcoffset() == timedelta(0)
    assert deadline.due_at.astimezone(MSK).time().isoformat() == "23:59:59"


def test_clarification_pause_and_resume_keep_the_remaining_days(cal):
    pause_started = msk(2025, 3, 18, 12)
    # While waiting: the clock is stopped, 19, 20 and 21 March are still owed.
    open_pause = compute_deadline(cal, msk(2025, 3, 14), 5, MSK, pauses=[Pause(pause_started, None)])
    assert open_pause.paused
    assert open_pause.remaining_working_days == 3
    assert open_pause.due_date == date(2025, 3, 21)
    assert "18.03.2025" in open_pause.explanation
    assert not is_overdue(open_pause, msk(2025, 4, 30))

    # Resumed on Monday 24 March: the 3 days are counted from the day after.
    resumed = compute_deadline(
        cal, msk(2025, 3, 14), 5, MSK, pauses=[Pause(pause_started, msk(2025, 3, 24, 9))]
    )
    assert not resumed.paused
    assert resumed.due_date == date(2025, 3, 27)
    assert "24.03.2025" in resumed.explanation
    assert "27.03.2025" in resumed.explanation


def test_pause_on_the_due_date_resumed_on_a_weekend(cal):
    deadline = compute_deadline(
        cal,
        msk(2025, 3, 14),
        5,
        MSK,
        pauses=[Pause(msk(2025, 3, 21, 9), msk(2025, 3, 22, 9))],
    )
    assert deadline.due_date == date(2025, 3, 24)


def test_same_day_pause_changes_nothing(cal):
    deadline = compute_deadline(
        cal, msk(2025, 3, 14), 5, MSK, pauses=[Pause(msk(2025, 3, 18, 9), msk(2025, 3, 18, 15))]
    )
    assert deadline.due_date == date(2025, 3, 21)


def test_multiple_pauses_apply_in_order(cal):
    deadline = compute_deadline(
        cal,
        msk(2025, 3, 14),
        5,
        MSK,
        pauses=[
            # given out of order on purpose
            Pause(msk(2025, 3, 26), msk(2025, 3, 31)),  # 27.03 owed -> 01.04
            Pause(msk(2025, 3, 18), msk(2025, 3, 24)),  # 19-21 owed -> 27.03
        ],
    )
    assert deadline.due_date == date(2025, 4, 1)


def test_pause_after_the_deadline_does_not_revive_it(cal):
    deadline = compute_deadline(
        cal, msk(2025, 3, 14), 5, MSK, pauses=[Pause(msk(2025, 3, 25), msk(2025, 3, 27))]
    )
    assert deadline.due_date == date(2025, 3, 21)
    assert is_overdue(deadline, msk(2025, 3, 28))


def test_extension_adds_working_days(cal):
    deadline = compute_deadline(
        cal,
        msk(2025, 3, 14),
        5,
        MSK,
        extensions=[Extension(10, "Запрос в Росреестр", msk(2025, 3, 20))],
    )
    assert deadline.due_date == date(2025, 4, 4)
    assert "Продление на 10 рабочих дней" in deadline.explanation
    assert "Запрос в Росреестр" in deadline.explanation


def test_extension_across_may_holidays(cal):
    deadline = compute_deadline(
        cal, msk(2025, 4, 24), 5, MSK, extensions=[Extension(2, "x", msk(2025, 4, 28))]
    )
    # 5 days: 25, 28, 29, 30.04, 05.05; +2: 06.05, 07.05
    assert deadline.due_date == date(2025, 5, 7)


def test_extension_granted_during_a_pause_applies_on_resumption(cal):
    deadline = compute_deadline(
        cal,
        msk(2025, 3, 14),
        5,
        MSK,
        pauses=[Pause(msk(2025, 3, 18), msk(2025, 3, 24))],
        extensions=[Extension(2, "x", msk(2025, 3, 20))],
    )
    assert deadline.due_date == date(2025, 3, 31)  # 27.03 + 2 working days
    still_open = compute_deadline(
        cal,
        msk(2025, 3, 14),
        5,
        MSK,
        pauses=[Pause(msk(2025, 3, 18), None)],
        extensions=[Extension(2, "x", msk(2025, 3, 20))],
    )
    assert still_open.paused
    assert still_open.remaining_working_days == 5


def test_is_overdue_from_the_next_day(cal):
    deadline = compute_deadline(cal, msk(2025, 3, 14), 5, MSK)
    assert not is_overdue(deadline, datetime(2025, 3, 21, 20, 59, 59, 500000, tzinfo=UTC))
    assert is_overdue(deadline, datetime(2025, 3, 21, 21, 0, 0, tzinfo=UTC))
    assert not is_overdue(deadline, msk(2025, 3, 21, 23, 59))
    assert is_overdue(deadline, msk(2025, 3, 22, 0, 0))


def test_is_overdue_needs_an_aware_now(cal):
    deadline = compute_deadline(cal, msk(2025, 3, 14), 5, MSK)
    with pytest.raises(ValueError):
        is_overdue(deadline, datetime(2025, 3, 22))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sent_at": datetime(2025, 3, 14, 10)},  # naive
        {"working_days": -1},
        {"pauses": [Pause(msk(2025, 3, 13), msk(2025, 3, 18))]},  # before sending
        {"pauses": [Pause(msk(2025, 3, 18), msk(2025, 3, 17))]},  # ends before it starts
        {"pauses": [Pause(msk(2025, 3, 18), None), Pause(msk(2025, 3, 20), None)]},
        {"pauses": [Pause(msk(2025, 3, 18), msk(2025, 3, 21)), Pause(msk(2025, 3, 20), None)]},
        {"extensions": [Extension(0, "x", msk(2025, 3, 18))]},
    ],
)
def test_inconsistent_input_is_rejected(cal, kwargs):
    args = {"sent_at": msk(2025, 3, 14), "working_days": 5, **kwargs}
    with pytest.raises(ValueError):
        compute_deadline(cal, tz=MSK, **args)


def test_deadline_is_frozen(cal):
    deadline = compute_deadline(cal, msk(2025, 3, 14), 5, MSK)
    assert isinstance(deadline, Deadline)
    with pytest.raises(AttributeError):
        deadline.due_date = date(2030, 1, 1)  # type: ignore[misc]


def test_due_date_for_rule(cal):
    assert due_date_for_rule(cal, date(2025, 3, 17)) == date(2025, 3, 17)
    assert due_date_for_rule(cal, date(2025, 5, 1)) == date(2025, 5, 5)
    assert due_date_for_rule(cal, date(2025, 11, 1)) == date(2025, 11, 1)  # working Saturday
    assert due_date_for_rule(cal, date(2025, 12, 31)) == date(2026, 1, 12)
