"""The greeting after sign-in ends in one full stop, whatever the name ends in."""
from types import SimpleNamespace

import pytest

from services.web.pages.common import welcome


@pytest.mark.parametrize("name, email, expected", [
    ("Иванов И. И.", "i@x", "Добро пожаловать, Иванов И. И."),   # was "И. И.." before
    ("Анна Петрова", "a@x", "Добро пожаловать, Анна Петрова."),
    (None, "mfc@kotovsk.example", "Добро пожаловать, mfc@kotovsk.example."),
])
def test_one_full_stop(name, email, expected):
    assert welcome(SimpleNamespace(name=name, email=email)) == expected
