"""The home page's "Просрочено" counts overdue reports too (issue 14, item 7)."""
from __future__ import annotations

import re
from datetime import date

from services.reports import run_schedule
from tests.conftest import seed


def test_home_overdue_count_includes_an_overdue_report(services):
    from services.web.app import create_app

    seed(services)
    app = create_app(services=services, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})
    it = app.test_client()
    assert it.post("/login", data={"email": "it@kotovsk.example", "password": "demo-password-1"}).status_code == 302
    html = it.get("/").get_data(as_text=True)
    assert "Просрочено (0)" in html and "Просроченных нет." in html

    # One cycle: the 2016 annual report, due 01.03.2017, never submitted: overdue for the executor.
    assert run_schedule(services, date(2017, 1, 10), year=2016) == 4  # the 2016 quarters too
    html = it.get("/").get_data(as_text=True)
    overdue = html.split('id="h-overdue"', 1)[1].split("</section>", 1)[0]
    assert "Просрочено (4)" in html
    assert "Годовой отчёт за 2016 год" in overdue, overdue
    assert "Срок: <time datetime=\"2017-03-01\">01.03.2017</time>" in overdue
    assert len(re.findall(r'class="item overdue"', overdue)) == 4
    assert "Просроченных нет." not in overdue
    # Listed once: not again under the reports awaiting action.
    assert "Отчёты, ожидающие ваших действий" not in html

    # Economic policy has nothing to do with a draft: its count stays 0.
    econ = app.test_client()
    econ.post("/login", data={"email": "econ@kotovsk.example", "password": "demo-password-1"})
    assert "Просрочено (0)" in econ.get("/").get_data(as_text=True)
