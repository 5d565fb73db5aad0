"""The discipline page as economic policy and the MFC read it: figures, names, the definition of "on time",
a link from each number to the items behind it, the chart, the files; no codes or raw numbers on the page.

The history is the service test's (tests/service/test_discipline_use_cases.py), today 21.03.2016.
"""
from __future__ import annotations

import re
from html import unescape

import pytest

from tests.api.test_discipline_api import history, names  # noqa: F401  (fixtures)
from tests.fuzz.conftest import Browser, set_demo_passwords
from tests.page_scan import scan, visible_text

YEAR = "from=2016-01-01&to=2016-12-31"


@pytest.fixture
def browser(services, app, history):  # noqa: F811
    set_demo_passwords(services)
    return lambda who: Browser(app, who).client


def cell_links(html: str) -> dict[str, str]:
    """Link text by href, for the numbers of the tables."""
    return {unescape(href): text for href, text in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', html)}


def test_economic_policy_reads_the_mfc_figures_and_drills_down_to_the_late_answer(browser, history, names):  # noqa: F811
    b = browser("econ")
    r = b.get(f"/discipline?{YEAR}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert scan(html) == []
    text = " ".join(visible_text(html).split())
    assert "«В срок» — ответ дан не позже срока" in text and "с учётом всех предоставленных продлений" in text
    assert "Запрос относится к месяцу, в котором он направлен" in text
    assert names["mfc"] in text and names["finance"] in text
    assert "Исполнительская дисциплина" in text  # the nav item and the title
    row = html[html.index(names["mfc"].replace('"', "&#34;")):]
    row = row[:row.index("</tr>")]
    cells = [c.replace("\u00a0", " ") for c in re.findall(r"<td[^>]*>(?:<a[^>]*>)?([^<]+)", row)]
    # received, on time, late, overdue now, open, withdrawn, extended, extensions, average delay, on-time share
    assert cells == ["5", "2", "1", "1", "1", "1", "1", "1", "2,0", "66,7 %"]
    links = cell_links(html)
    late = next(href for href, t in links.items() if "figure=late" in href and "department=mfc" in href
                and "month" not in href)
    assert links[late] == "1"
    assert "<svg" in html and "Запросы по месяцам направления" in html
    assert "/discipline.xlsx?" in html and "/discipline.pdf?" in html
    assert "март 2016" in text and "февраль 2016" in text

    r = b.get(late)
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert scan(page) == []
    items = " ".join(visible_text(page).split())
    assert "26.02.2016 04.03.2016 10.03.2016 С опозданием 2" in items
    assert "Б: с опозданием" not in items and "не показывается" in items  # the subject is the parties'
    assert "А: в срок" not in items
    assert f"/requests/{history['B']}" not in page  # economic policy counts it, but is no party to open it

    r = b.get(f"/discipline.pdf?{YEAR}&department=mfc")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    r = b.get(f"/discipline.xlsx?{YEAR}")
    assert r.status_code == 200 and r.data[:2] == b"PK"


def test_the_mfc_sees_only_its_own_and_opens_its_items(browser, history, names):  # noqa: F811
    b = browser("mfc")
    html = b.get(f"/discipline?{YEAR}").get_data(as_text=True)
    assert scan(html) == []
    assert names["mfc"].replace('"', "&#34;") in html
    assert names["finance"] not in visible_text(html).split("Подразделение-адресат")[-1].split("По подразделениям")[-1]
    assert "только запросы, в которых участвует ваше подразделение" in html
    page = b.get(f"/discipline/items?{YEAR}&figure=overdue").get_data(as_text=True)
    assert scan(page) == []
    assert f'href="/requests/{history["D"]}"' in page and "Просрочен" in page and "Г: просрочен" in page
    assert "Финансам" not in b.get(f"/discipline/items?{YEAR}").get_data(as_text=True)


@pytest.mark.parametrize("query, message", [
    ("from=2016-05-01&to=2016-04-01", "Конец периода раньше его начала."),
    ("from=вчера", "Дата в виде ГГГГ-ММ-ДД."),
    ("department=nope", "Нет такого подразделения."),
])
def test_bad_filters_show_the_form_with_the_reason_at_the_field(browser, query, message):
    r = browser("econ").get(f"/discipline?{query}")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert message in html and 'aria-invalid="true"' in html
    assert scan(html) == []


def test_a_bad_drill_down_is_422_in_russian(browser):
    r = browser("econ").get(f"/discipline/items?{YEAR}&figure=bogus")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Нет такого показателя." in html and scan(html) == []
