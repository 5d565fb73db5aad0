"""The report form as an XLSX workbook, built from the report's content (frozen once submitted)."""
from __future__ import annotations

import re
from decimal import Decimal
from dataclasses import dataclass
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from services import reports as rp

KIND_LABELS = {"quarterly": "Ежеквартальный отчёт о ходе реализации", "annual": "Годовой отчёт о ходе реализации"}

INDICATOR_HEADER = ("Код", "Показатель", "Ед. изм.", "План", "Факт", "Степень достижения", "Примечание")
FINANCING_HEADER = ("Источник", "План", "Кассовые расходы", "Исполнение")
ACTIVITY_HEADER = ("Код", "Мероприятие", "Исполнитель", "Выполнено")
EVALUATION_ROWS = (
    ("subprogram_achievement", "Степень достижения показателей (подпрограммы)"),
    ("activity_completion", "Степень реализации мероприятий"),
    ("budget_execution", "Степень освоения средств"),
    ("spending_efficiency", "Эффективность использования средств"),
    ("effectiveness", "Эффективность реализации программы"),
)


def number(value: str | None):
    """Figures are exact decimal strings in the content; cells get Decimals, blanks stay blank."""
    return None if value is None else Decimal(value)


def _done(value) -> str:
    return "нет сведений" if value is None else ("да" if value else "нет")


# A cell that starts like this is a formula to a spreadsheet (OWASP's formula-injection rule),
# unless it is a plain number ("-5"), which a spreadsheet reads as the number it is.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
# Control characters other than tab and line ends, lone surrogates and the two non-characters:
# XML (the XLSX inside) cannot carry them, and they have no business in a CSV either.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean_text(text: str) -> str:
    return _ILLEGAL.sub("", text)


def looks_like_formula(text: str) -> bool:
    """The one rule for every export (XLSX and CSV): would a spreadsheet run this text?"""
    return text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text)


def csv_field(value) -> str:
    """A CSV cell: blanks stay blank, text that looks like a formula gets OWASP's leading quote."""
    if value is None:
        return ""
    text = clean_text(str(value))
    return "'" + text if looks_like_formula(text) else text


def _cell(ws, row: int, column: int, value):
    """Every cell goes through here: text is written as text, never as a formula, and characters
    XML cannot carry are dropped (openpyxl would refuse the whole workbook)."""
    if isinstance(value, str):
        value = clean_text(value)
        cell = ws.cell(row=row, column=column, value=value)
        if looks_like_formula(value):
            cell.data_type = "s"
        return cell
    return ws.cell(row=row, column=column, value=value)


def _header(ws, row: int, titles) -> None:
    for col, title in enumerate(titles, 1):
        cell = _cell(ws, row, col, title)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def build_xlsx(content: dict, *, state_label: str = "") -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Отчёт"
    _cell(ws, 1, 1, content["program"]["title"])
    ws["A1"].font = Font(bold=True)
    _cell(ws, 2, 1, f"{KIND_LABELS.get(content['kind'], 'Отчёт')} за {content['period_label']}")
    _cell(ws, 3, 1, f"Период: {content['period']}; редакция программы № {content['version']}")
    _cell(ws, 4, 1, f"Состояние: {state_label}" if state_label else None)
    _cell(ws, 6, 1, "Пояснительная записка")
    ws["A6"].font = Font(bold=True)
    _cell(ws, 7, 1, content.get("note") or "")
    ws["A7"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 100

    ind = wb.create_sheet("Показатели")
    _header(ind, 1, INDICATOR_HEADER)
    for r, i in enumerate(content["indicators"], 2):
        for c, value in enumerate((i["code"], i["name"], i["unit"], number(i["plan"]), number(i["fact"]),
                                   number(i["achievement"]), i.get("missing") or ""), 1):
            _cell(ind, r, c, value)
    ind.column_dimensions["B"].width = 80

    fin = wb.create_sheet("Финансирование")
    fin["A1"] = f"Единица измерения: {content['financing_unit']}"
    _header(fin, 2, FINANCING_HEADER)
    rows = content["financing"]
    for r, f in enumerate(rows, 3):
        for c, value in enumerate((f["source_name"], number(f["plan"]), number(f["spent"]),
                                   number(f["execution"])), 1):
            _cell(fin, r, c, value)
    total = content["financing_total"]
    r = 3 + len(rows)
    for c, value in enumerate(("Итого", number(total["plan"]), number(total["spent"]), number(total["execution"])), 1):
        _cell(fin, r, c, value).font = Font(bold=True)
    fin.column_dimensions["A"].width = 40

    act = wb.create_sheet("Мероприятия")
    _header(act, 1, ACTIVITY_HEADER)
    for r, a in enumerate(content["activities"], 2):
        for c, value in enumerate((a["code"], a["title"], a["executor"], _done(a["done"])), 1):
            _cell(act, r, c, value)
    act.column_dimensions["B"].width = 80

    evaluation = content.get("evaluation")
    if evaluation:
        ev = wb.create_sheet("Оценка эффективности")
        _header(ev, 1, ("Показатель оценки", "Значение", "Формула", "Примечание"))
        for r, (key, label) in enumerate(EVALUATION_ROWS, 2):
            fig = evaluation[key]
            for c, value in enumerate((label, number(fig["value"]), fig["formula"], fig["missing"] or ""), 1):
                _cell(ev, r, c, value)
        r = 2 + len(EVALUATION_ROWS)
        _cell(ev, r, 1, "Оценка эффективности")
        _cell(ev, r, 2, evaluation.get("rating_label") or "не рассчитана")
        ev.column_dimensions["A"].width = 50

    out = BytesIO()
    wb.save(out)
    return out.getvalue()


# --- PDF (reportlab; optional dependency) -----------------------------------------------------

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)


class PdfUnavailable(RuntimeError):
    """reportlab is not installed, or no font with Cyrillic glyphs was found."""


def _register_font() -> str:
    import os

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "ReportSans" in pdfmetrics.getRegisteredFontNames():
        return "ReportSans"
    paths = [os.environ.get("INTERDEPT_PDF_FONT", ""), *FONT_CANDIDATES]
    for path in paths:
        if path and os.path.exists(path):
            pdfmetrics.registerFont(TTFont("ReportSans", path))
            return "ReportSans"
    raise PdfUnavailable("Нет шрифта с кириллицей для PDF (задайте INTERDEPT_PDF_FONT — путь к TTF).")


def _fmt(value: str | None) -> str:
    return "—" if value is None else value


def build_pdf(content: dict, *, state_label: str = "") -> bytes:
    """The same form as the workbook, on A4 landscape; tables wrap long Russian names."""
    try:
        from reportlab.lib import colors
        from reportlab.lib.pagesizes import A4, landscape
        from reportlab.lib.styles import ParagraphStyle
        from reportlab.lib.units import mm
        from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise PdfUnavailable("PDF недоступен: не установлен пакет reportlab.") from exc
    font = _register_font()
    base = ParagraphStyle("base", fontName=font, fontSize=8, leading=10)
    title = ParagraphStyle("title", parent=base, fontSize=12, leading=15)
    head = ParagraphStyle("head", parent=base, fontSize=10, leading=13, spaceBefore=6)

    def p(text, style=base):
        from xml.sax.saxutils import escape

        return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)

    def table(rows, widths):
        t = Table([[p(c) for c in row] for row in rows], colWidths=[w * mm for w in widths], repeatRows=1)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return t

    story = [
        p(content["program"]["title"], title),
        p(f"{KIND_LABELS.get(content['kind'], 'Отчёт')} за {content['period_label']}", head),
        p(f"Редакция программы № {content['version']}. {('Состояние: ' + state_label) if state_label else ''}"),
        Spacer(1, 4 * mm),
        p("Целевые показатели", head),
        table([INDICATOR_HEADER[:6]] + [[i["code"], i["name"], i["unit"], _fmt(i["plan"]), _fmt(i["fact"]),
                                         _fmt(i["achievement"])] for i in content["indicators"]],
              (12, 150, 22, 25, 25, 30)),
        p(f"Финансирование, {content['financing_unit']}", head),
        table([FINANCING_HEADER] + [[f["source_name"], _fmt(f["plan"]), _fmt(f["spent"]), _fmt(f["execution"])]
                                    for f in content["financing"]]
              + [["Итого", _fmt(content["financing_total"]["plan"]), _fmt(content["financing_total"]["spent"]),
                  _fmt(content["financing_total"]["execution"])]], (90, 40, 40, 40)),
        p("Мероприятия", head),
        table([ACTIVITY_HEADER] + [[a["code"], a["title"], a["executor"], _done(a["done"])]
                                   for a in content["activities"]], (14, 190, 30, 30)),
    ]
    evaluation = content.get("evaluation")
    if evaluation:
        story += [p("Оценка эффективности", head), table(
            [("Показатель оценки", "Значение", "Формула", "Примечание")]
            + [[label, _fmt(evaluation[key]["value"]), evaluation[key]["formula"], evaluation[key]["missing"] or ""]
               for key, label in EVALUATION_ROWS]
            + [["Оценка эффективности", evaluation.get("rating_label") or "не рассчитана", "", ""]],
            (70, 25, 90, 80))]
    story += [p("Пояснительная записка", head), p(content.get("note") or "—")]
    out = BytesIO()
    SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                      bottomMargin=12 * mm, title=content["program"]["title"]).build(story)
    return out.getvalue()


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class ExportedReport:
    filename: str
    mimetype: str
    data: bytes


def export_report(session, actor, report_id: int, fmt: str) -> ExportedReport:
    """The report form as a file (``xlsx`` or ``pdf``), for the API and the web page alike.

    Raises PdfUnavailable when the PDF cannot be drawn here (no reportlab or no Cyrillic font).
    """
    report = rp.get_visible(session, actor, report_id)
    content = rp.content_of(session, report)
    if report.registration_number:  # the title line of both forms: "… за 2016 год, рег. № ИТ-2026/00001 от 03.12.2026"
        content = {**content, "period_label": f"{content['period_label']}, рег. № {report.registration_number} "
                                              f"от {report.registration_date:%d.%m.%Y}"}
    label = rp.WORKFLOW.state_labels.get(report.state, report.state)
    name = f"report-{report.program.slug}-{report.period}.{fmt}"
    if fmt == "xlsx":
        return ExportedReport(name, XLSX_TYPE, build_xlsx(content, state_label=label))
    return ExportedReport(name, "application/pdf", build_pdf(content, state_label=label))
