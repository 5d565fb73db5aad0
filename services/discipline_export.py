"""The discipline report as files: an XLSX workbook (numbers as numbers) and a PDF (reportlab, DejaVu)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font

from services.adapters.formatting import format_date, format_datetime, format_month, format_number, format_percent
from services.discipline import DisciplineView
from services.report_export import PdfUnavailable, XLSX_TYPE, _cell, _header, _register_font, numbered_canvas
from workflows.discipline import LATE, OUTCOME_LABELS, OVERDUE, Figures

DEFINITION = (
    "«В срок» — ответ дан не позже срока, действующего на день ответа: срок считается в рабочих днях по "
    "производственному календарю со дня, следующего за направлением, с учётом всех предоставленных продлений "
    "и приостановок на время рассмотрения ответа. «С опозданием» — ответ дан позже этого срока; задержка — "
    "число рабочих дней от срока до дня ответа. «Просрочено сейчас» — ответа нет (или запрошено уточнение), "
    "а срок истёк; задержка считается до сегодняшнего дня. Средняя задержка — по ответам с опозданием. "
    "Отозванные запросы ни в одно число не входят и показаны отдельно."
)
MONTH_RULE = ("Запрос относится к месяцу, в котором он направлен подразделению; период отчёта — тоже по дате "
              "направления.")

COLUMNS = (("received", "Поступило"), ("on_time", "В срок"), ("late", "С опозданием"),
           ("overdue", "Просрочено сейчас"), ("open", "Срок не истёк"), ("withdrawn", "Отозвано"),
           ("extended", "С продлением"), ("extensions", "Продлений"))
TAIL = ("Средняя задержка, раб. дн.", "Доля в срок")
HIDDEN_SUBJECT = "—"  # the subject of a request the caller is no party to is not shown
ITEM_HEADER = ("Рег. номер", "Адресат", "Запросившее подразделение", "Тема", "Направлен", "Срок", "Ответ", "Итог",
               "Задержка, раб. дн.", "Продлений")


@dataclass(frozen=True)
class ExportedDiscipline:
    filename: str
    mimetype: str
    data: bytes


def _name(view: DisciplineView, code: str) -> str:
    return view.names.get(code, code)


def _title(view: DisciplineView) -> list[str]:
    lines = [f"Период: {format_date(view.start)} — {format_date(view.end)}; состояние на {format_date(view.today)}"]
    if view.program_title:
        lines.append(f"Программа: {view.program_title}")
    if view.query.department:
        lines.append(f"Подразделение: {_name(view, view.query.department)}")
    return lines


# --- XLSX ---------------------------------------------------------------------------------------

def _figure_cells(ws, row: int, first_col: int, f: Figures) -> None:
    for i, (key, _) in enumerate(COLUMNS):
        _cell(ws, row, first_col + i, getattr(f, key), "0")
    col = first_col + len(COLUMNS)
    _cell(ws, row, col, float(f.average_delay) if f.average_delay is not None else None, "0.0")
    _cell(ws, row, col + 1, float(f.on_time_share) if f.on_time_share is not None else None, "0.0%")


def build_xlsx(view: DisciplineView, formed: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Сводка"
    _cell(ws, 1, 1, "Отчёт об исполнительской дисциплине").font = Font(bold=True)
    lines = _title(view) + [DEFINITION, MONTH_RULE, f"Сформировано {formed}"]
    for r, line in enumerate(lines, 2):
        _cell(ws, r, 1, line)
    head = 3 + len(lines)
    _header(ws, head, ("Подразделение", *[t for _, t in COLUMNS], *TAIL))
    r = head
    for r, d in enumerate(view.report.departments, head + 1):
        _cell(ws, r, 1, _name(view, d.department))
        _figure_cells(ws, r, 2, d.total)
    r += 1
    _cell(ws, r, 1, "Итого").font = Font(bold=True)
    _figure_cells(ws, r, 2, view.report.total)
    ws.column_dimensions["A"].width = 50

    ms = wb.create_sheet("По месяцам")
    _header(ms, 1, ("Подразделение", "Месяц", *[t for _, t in COLUMNS], *TAIL))
    r = 1
    for d in view.report.departments:
        for month in view.report.months:
            r += 1
            _cell(ms, r, 1, _name(view, d.department))
            _cell(ms, r, 2, format_month(month))
            _figure_cells(ms, r, 3, d.months[month])
    ms.column_dimensions["A"].width = 50
    ms.column_dimensions["B"].width = 16

    its = wb.create_sheet("Запросы")
    _header(its, 1, ITEM_HEADER)
    for r, item in enumerate(view.items, 2):
        f = item.facts
        values = (f.label, _name(view, f.department), _name(view, view.requesters[f.item_id]),
                  view.subjects.get(f.item_id, HIDDEN_SUBJECT), f.sent, f.due, f.answered,
                  OUTCOME_LABELS[item.outcome], item.delay, f.extensions)
        for c, value in enumerate(values, 1):
            _cell(its, r, c, value, "DD.MM.YYYY" if c in (5, 6, 7) else ("0" if c in (9, 10) else None))
    its.column_dimensions["B"].width = 40
    its.column_dimensions["C"].width = 40
    its.column_dimensions["D"].width = 60
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


# --- PDF ------------------------------------------------------------------------------------------

def _figure_texts(f: Figures) -> list[str]:
    return [format_number(getattr(f, key)) for key, _ in COLUMNS] + [
        format_number(f.average_delay, 1) if f.average_delay is not None else "—", format_percent(f.on_time_share)]


def build_pdf(view: DisciplineView, formed: str) -> bytes:
    try:
        from xml.sax.saxutils import escape

        from reportlab.lib import colors
        from reportlab.lib.enums import TA_CENTER, TA_RIGHT
        from reportlab.lib.pagesizes import A4, landscape
        from reportlab.lib.styles import ParagraphStyle
        from reportlab.lib.units import mm
        from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise PdfUnavailable("PDF недоступен: не установлен пакет reportlab.") from exc
    font, bold = _register_font()
    base = ParagraphStyle("base", fontName=font, fontSize=8, leading=10)
    num = ParagraphStyle("num", parent=base, alignment=TA_RIGHT)
    th = ParagraphStyle("th", parent=base, fontName=bold)
    title = ParagraphStyle("title", parent=base, fontName=bold, fontSize=13, leading=16, alignment=TA_CENTER)
    head = ParagraphStyle("head", parent=base, fontName=bold, fontSize=10, leading=13, spaceBefore=8,
                          spaceAfter=3)
    page_w, _ = landscape(A4)
    margin = 12 * mm

    def p(text, style=base):
        return Paragraph(escape(str(text)), style)

    def table(header, rows, widths, numeric):
        body = [[p(c, th) for c in header]]
        body += [[p(c, num if i in numeric else base) for i, c in enumerate(row)] for row in rows]
        t = Table(body, colWidths=[w * mm for w in widths], repeatRows=1, hAlign="LEFT")
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return t

    figure_header = [t for _, t in COLUMNS] + list(TAIL)
    widths = [19] * len(figure_header)
    story = [p("Отчёт об исполнительской дисциплине", title), Spacer(1, 3 * mm)]
    story += [p(line) for line in _title(view)]
    story += [Spacer(1, 2 * mm), p(DEFINITION), p(MONTH_RULE)]
    story += [p("По подразделениям", head), table(
        ["Подразделение", *figure_header],
        [[_name(view, d.department), *_figure_texts(d.total)] for d in view.report.departments]
        + [["Итого", *_figure_texts(view.report.total)]], [63, *widths], range(1, 11))]
    monthly = [[_name(view, d.department), format_month(m), *_figure_texts(d.months[m])]
               for d in view.report.departments for m in view.report.months
               if d.months[m].received or d.months[m].withdrawn]
    if monthly:
        story += [p("По месяцам направления (месяцы без запросов не показаны)", head),
                  table(["Подразделение", "Месяц", *figure_header], monthly, [41, 22, *widths], range(2, 12))]
    behind = [i for i in view.items if i.outcome in (LATE, OVERDUE)]
    if behind:
        # Dates and figures first, the long names after: a wrapped name never splits a number.
        story += [p("Ответы с опозданием и просроченные запросы", head), table(
            [ITEM_HEADER[i] for i in (0, 4, 5, 6, 7, 8, 9, 1, 2, 3)],
            [[i.facts.label, format_date(i.facts.sent), format_date(i.facts.due),
              format_date(i.facts.answered), OUTCOME_LABELS[i.outcome], format_number(i.delay),
              format_number(i.facts.extensions), _name(view, i.facts.department),
              _name(view, view.requesters[i.facts.item_id]), view.subjects.get(i.facts.item_id, HIDDEN_SUBJECT)]
             for i in behind], [30, 24, 24, 24, 26, 20, 20, 36, 31, 38], (5, 6))]

    out = BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=margin + 4 * mm, title="Отчёт об исполнительской дисциплине",
                            creator="interdept", lang="ru")
    doc.build(story, canvasmaker=numbered_canvas(font, margin, page_w, formed))
    return out.getvalue()


def export_discipline(view: DisciplineView, fmt: str, *, tz: tzinfo | None = None,
                      now: datetime | None = None) -> ExportedDiscipline:
    """``fmt``: xlsx or pdf. Raises PdfUnavailable when the PDF cannot be drawn here."""
    formed = format_datetime(now or datetime.now(timezone.utc), tz)
    name = f"discipline-{view.start.isoformat()}-{view.end.isoformat()}.{fmt}"
    if fmt == "xlsx":
        return ExportedDiscipline(name, XLSX_TYPE, build_xlsx(view, formed))
    return ExportedDiscipline(name, "application/pdf", build_pdf(view, formed))
