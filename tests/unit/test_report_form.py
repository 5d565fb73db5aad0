"""The report form as a Russian document, from a content with every kind of figure (issue 14, 5-6).

The API tests (tests/api/test_reports_api.py) draw the form of a real report; the seeded program has
no indicator plans, so degrees of achievement and a full evaluation are exercised here.
"""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from services.report_export import Acceptance, FormContext, SignatureMark, build_pdf, build_xlsx
from tests.conftest import unavailable

MSK = ZoneInfo("Europe/Moscow")
NAMES = {"it": "Отдел информационных технологий администрации города",
         "mfc": "Многофункциональный центр"}  # short: a wrapped cell interleaves in pdftotext -layout


def _figure(value):
    return {"value": value, "formula": "формула", "inputs": {}, "missing": None if value else "нет данных"}


CONTENT = {
    "program": {"slug": "p", "title": "Муниципальная программа «Информационное общество»"}, "version": 2,
    "kind": "annual", "period": "2016", "period_label": "2016 год", "financing_unit": "тыс. рублей",
    "note": "Записка",
    "indicators": [
        {"code": "I1", "name": "Посещения сайта", "unit": "посещений", "direction": "increase", "plan": "60000",
         "fact": "54120", "achievement": "0.902", "missing": None, "source": None},
        {"code": "I2", "name": "Доля электронного документооборота", "unit": "%", "direction": "increase",
         "plan": "90", "fact": "87.5", "achievement": "0.9722", "missing": None, "source": None},
    ],
    "financing": [
        {"source": "city", "source_name": "Средства бюджета города", "plan": "3532", "spent": "3400.5",
         "execution": "0.9628", "parts": []},
    ],
    "financing_total": {"plan": "3532", "spent": "3400.5", "execution": "0.9628"},
    "activities": [{"code": "A1", "title": "Сайт", "executor": "it", "done": True, "source": None},
                   {"code": "A2", "title": "Услуги", "executor": "mfc", "done": False, "source": None}],
    "evaluation": {
        "subprogram_achievement": _figure("0.9371"), "activity_completion": _figure("0.5"),
        "budget_execution": _figure("0.9628"), "spending_efficiency": _figure("0.5193"),
        "effectiveness": _figure("0.4866"), "rating": "unsatisfactory", "rating_label": "неудовлетворительная",
    },
}
ACCEPTED_AT = datetime(2017, 2, 20, 11, 5, tzinfo=timezone.utc)  # 14:05 in Moscow
SIGNATURE = SignatureMark("Ed25519", "0123456789abcdef0123456789abcdef", "ab" * 32, ACCEPTED_AT)


def _context(acceptance=None) -> FormContext:
    return FormContext(state_label="Принят" if acceptance else "Представлен", executor=NAMES["it"],
                       departments=NAMES, acceptance=acceptance,
                       formed_at=datetime(2017, 3, 1, 21, 30, tzinfo=timezone.utc), tz=MSK)


def _text(data: bytes, tmp_path) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        unavailable("poppler-utils (pdftotext)", "not installed (apt-get install poppler-utils)")
    path = tmp_path / "form.pdf"
    path.write_bytes(data)
    out = subprocess.run([tool, "-layout", str(path), "-"], capture_output=True, check=True, timeout=60).stdout
    return " ".join(out.decode().replace("\u00a0", " ").split())


def percent(ratio: str) -> str:
    return f"{(Decimal(ratio) * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}".replace(".", ",") + " %"


def test_pdf_speaks_russian_numbers_percentages_and_names(tmp_path):
    text = _text(build_pdf(CONTENT, context=_context()), tmp_path)
    assert "Муниципальная программа «Информационное общество»" in text
    assert "Годовой отчёт о ходе реализации за 2016 год" in text
    assert f"Ответственный исполнитель {NAMES['it']}" in text
    assert "54 120" in text and "60 000" in text and "87,5" in text
    assert "3 400,5" in text and "3 532,0" in text
    for i in CONTENT["indicators"]:
        assert percent(i["achievement"]) in text
    assert percent("0.9628") == "96,3 %" and "96,3 %" in text
    assert "Эффективность реализации программы 0,49" in text  # a coefficient, not a percentage
    assert "Степень реализации мероприятий 50,0 %" in text
    assert "неудовлетворительная" in text
    assert NAMES["mfc"] in text and not re.search(r"\b(it|mfc)\b", text)
    assert "0.9628" not in text and "3400.5" not in text
    # Formed at 21:30 UTC = 00:30 on the 2nd in Moscow: the date is the municipality's.
    assert "Сформировано 2 марта 2017 г., 00:30 по московскому времени" in text
    pages = int(re.findall(r"Страница \d+ из (\d+)", text)[-1])
    assert [f"Страница {n} из {pages}" in text for n in range(1, pages + 1)] == [True] * pages
    assert "Отчёт не принят. Состояние: «Представлен»." in text


def test_pdf_acceptance_block_with_and_without_signature(tmp_path):
    signed = Acceptance("Петрова А. А.", "Отдел экономической политики", ACCEPTED_AT, "Без замечаний", SIGNATURE)
    text = _text(build_pdf(CONTENT, context=_context(signed)), tmp_path)
    assert "Отчёт принят: Отдел экономической политики, Петрова А. А., 20.02.2017 14:05." in text
    assert "Комментарий: Без замечаний" in text
    assert "Решение подписано электронной подписью (Ed25519) 20.02.2017 14:05." in text
    assert f"Ключ подписи: {SIGNATURE.key_id}" in text and f"SHA-256 подписанного документа: {'ab' * 32}." in text
    assert "не принят" not in text
    unsigned = Acceptance("Петрова А. А.", "Отдел экономической политики", ACCEPTED_AT)
    assert "Электронной подписи решения нет." in _text(build_pdf(CONTENT, context=_context(unsigned)), tmp_path)


def test_xlsx_figures_are_numeric_cells_with_number_formats():
    wb = load_workbook(io.BytesIO(build_xlsx(CONTENT, context=_context())))
    ind = wb["Показатели"]
    assert [(c.value, c.data_type, c.number_format) for c in ind[2][3:6]] == [
        (60000, "n", "#,##0"), (54120, "n", "#,##0"), (0.902, "n", "0.0%")]
    assert (ind["E3"].value, ind["E3"].number_format) == (87.5, "#,##0.0")
    fin = wb["Финансирование"]
    assert [(c.value, c.number_format) for c in fin[3][1:4]] == [
        (3532, "#,##0.0"), (3400.5, "#,##0.0"), (0.9628, "0.0%")]
    assert fin["A4"].value == "Итого" and fin["D4"].number_format == "0.0%" and fin["D4"].data_type == "n"
    ev = wb["Оценка эффективности"]
    assert [ev[f"B{r}"].number_format for r in range(2, 7)] == ["0.0%", "0.0%", "0.0%", "0.00", "0.00"]
    assert all(ev[f"B{r}"].data_type == "n" for r in range(2, 7))
    act = wb["Мероприятия"]
    assert [row[2] for row in act.iter_rows(min_row=2, values_only=True)] == [NAMES["it"], NAMES["mfc"]]
    sheet = [" ".join(c.value.split()) for row in wb["Отчёт"].iter_rows() for c in row if c.value]  # U+202F
    assert f"Ответственный исполнитель: {NAMES['it']}" in sheet
    assert "Сформировано 2 марта 2017 г., 00:30 по московскому времени" in sheet


def test_pdf_draws_hostile_text_as_text(tmp_path):
    """Markup, control characters and lone surrogates in a note or a name neither break the PDF nor
    become formatting: a Paragraph gets escaped text."""
    content = {**CONTENT, "note": "до\x01после <b>жирный</b> & \ud800 \ufffe",
               "indicators": [{**CONTENT["indicators"][0], "name": "<para>\x00</para>"}]}
    text = _text(build_pdf(content, context=_context()), tmp_path)
    assert "<b>жирный</b> &" in text and "<para>" in text
