"""The page scanner finds what it is for, and leaves what a person may read."""
import pytest

from tests.page_scan import scan


@pytest.mark.parametrize("html, what", [
    ("<td>economic-policy</td>", "department code"),
    ("<p>Исполнитель: mfc</p>", "department code"),
    ("<li>it (20.02.2017)</li>", "department code"),
    ("<span>under_review</span>", "English name"),
    ("<p>Состояние: draft</p>", "English name"),
    ("<td>3400.5</td>", "Python-style number"),
    ("<td>0.9628</td>", "Python-style number"),
    ("<td>54120</td>", "number without separators"),
    ("<td>financing[2017].city</td>", "identifier"),
    ("<p>Ошибка в поле due_date</p>", "identifier"),
])
def test_finds(html, what):
    found = scan(html)
    assert found and found[0].startswith(what), found


@pytest.mark.parametrize("html", [
    "<p>Срок — 20.02.2017 23:59, №17, 2016 год, 3\u00a0400,5 тыс. руб., 96,3\u00a0%</p>",
    '<select name="department"><option value="mfc">МФЦ</option></select>',
    "<p>Письмо отправлено на it@kotovsk.example</p>",
    '<a href="/requests?state=draft">Черновики</a>',
    "<script>const state = 'draft';</script><style>.it{}</style>",
    "<p>Мероприятие 1.2.3, показатель I11</p>",
])
def test_leaves(html):
    assert scan(html) == []
