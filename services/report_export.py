"""The report form as a Russian document: an XLSX workbook and an A4 PDF, built from the report's
content (frozen once submitted) and what the database knows about it (department names, who
accepted it and when, the signature over that decision).

Every figure shown as text goes through services.adapters.formatting ("3 400,5", "96,3 %");
the workbook keeps figures as numbers with a number format, so a spreadsheet can count with them.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from decimal import Decimal
from io import BytesIO
from typing import Mapping

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import select

from services import reports as rp
from services.adapters.formatting import (
    NOTHING, format_amount, format_date, format_date_long, format_datetime, format_number, format_percent,
)
from services.models.registry import Department, User
from services.models.workflow import TransitionRecord
from services.signing import signatures_for
from workflows.time_zones import by_time_in_words

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
# Degrees (a share of the plan) read as percentages; the two efficiencies are coefficients
# compared with the methodology's thresholds (0,9; 0,8; 0,7) and read as such.
EVALUATION_RATIOS = frozenset({"subprogram_achievement", "activity_completion", "budget_execution"})

# Number formats of the workbook (Excel's codes; a Russian Excel shows "3 400,5" and "96,3%").
AMOUNT_FORMAT = "#,##0.0"
PERCENT_FORMAT = "0.0%"
COEFFICIENT_FORMAT = "0.00"


def number(value: str | None):
    """Figures are exact decimal strings in the content; cells get Decimals, blanks stay blank."""
    return None if value is None else Decimal(value)


def value_format(value: str | None) -> str:
    """An indicator's own precision: '54120' -> '#,##0', '87.5' -> '#,##0.0'."""
    if value is None:
        return "General"
    exponent = Decimal(value).normalize().as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 0
    return "#,##0" + ("." + "0" * places if places else "")


def _done(value) -> str:
    return "нет сведений" if value is None else ("да" if value else "нет")


# --- what the form says besides the content ------------------------------------------------

@dataclass(frozen=True)
class SignatureMark:
    """The signature over the acceptance: enough to find and check it against the published key."""

    algorithm: str
    key_id: str
    document_sha256: str
    signed_at: datetime


@dataclass(frozen=True)
class Acceptance:
    person: str
    department: str
    at: datetime
    comment: str = ""
    signature: SignatureMark | None = None


@dataclass(frozen=True)
class FormContext:
    """Names and marks the frozen content does not carry; the export looks them up."""

    state_label: str = ""
    executor: str = ""  # the responsible executor department's name
    departments: Mapping[str, str] = field(default_factory=dict)  # code -> name
    acceptance: Acceptance | None = None
    formed_at: datetime | None = None
    tz: tzinfo | None = None

    def department(self, code: str | None) -> str:
        if not code:
            return NOTHING
        return self.departments.get(code, code)

    def formed(self) -> str:
        """'3 декабря 2026 г., 18:14 по московскому времени'."""
        at = self.formed_at or datetime.now(timezone.utc)
        clock = format_datetime(at, self.tz).split(" ")[-1]
        zone = f" {by_time_in_words(self.tz)}" if self.tz else " (UTC)"
        return f"{format_date_long(at, self.tz)}, {clock}{zone}"

    def acceptance_lines(self) -> list[str]:
        a = self.acceptance
        if a is None:
            return [f"Отчёт не принят. Состояние: «{self.state_label}»." if self.state_label
                    else "Отчёт не принят."]
        lines = [f"Отчёт принят: {a.department}, {a.person}, {format_datetime(a.at, self.tz)}."]
        if a.comment:
            lines.append(f"Комментарий: {a.comment}")
        if a.signature:
            s = a.signature
            lines += [f"Решение подписано электронной подписью ({s.algorithm}) {format_datetime(s.signed_at, self.tz)}.",
                      f"Ключ подписи: {s.key_id} (открытый ключ опубликован: /api/v1/keys).",
                      f"SHA-256 подписанного документа: {s.document_sha256}."]
        else:
            lines.append("Электронной подписи решения нет.")
        return lines


def _acceptance(session, report, departments: Mapping[str, str]) -> Acceptance | None:
    """The last acceptance, if the report is accepted now (accepted or published), with its signature."""
    if report.state not in ("accepted", "published"):
        return None
    record = session.execute(
        select(TransitionRecord).where(TransitionRecord.workflow == rp.WORKFLOW.name,
                                       TransitionRecord.item_id == report.id, TransitionRecord.event == "accept")
        .order_by(TransitionRecord.id.desc()).limit(1)
    ).scalar_one_or_none()
    if record is None:
        return None
    user = session.get(User, record.actor_id) if record.actor_id else None
    signed = [s for s in signatures_for(session, "report", report.id) if s.decision == "accept"]
    mark = None
    if signed:
        s = signed[-1]
        mark = SignatureMark(s.algorithm, s.key_id, hashlib.sha256(s.document.encode()).hexdigest(), s.signed_at)
    code = record.actor_department or ""
    return Acceptance(person=(user.name or user.email) if user else "—",
                      department=departments.get(code, code) or "—", at=record.at,
                      comment=record.comment or "", signature=mark)


# --- XLSX ------------------------------------------------------------------------------------

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


def _cell(ws, row: int, column: int, value, number_format: str | None = None):
    """Every cell goes through here: text is written as text, never as a formula, and characters
    XML cannot carry are dropped (openpyxl would refuse the whole workbook). Numbers stay numbers,
    with ``number_format``."""
    if isinstance(value, str):
        value = clean_text(value)
        cell = ws.cell(row=row, column=column, value=value)
        if looks_like_formula(value):
            cell.data_type = "s"
        return cell
    cell = ws.cell(row=row, column=column, value=value)
    if number_format and value is not None:
        cell.number_format = number_format
    return cell


def _header(ws, row: int, titles) -> None:
    for col, title in enumerate(titles, 1):
        cell = _cell(ws, row, col, title)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _evaluation_format(key: str) -> str:
    return PERCENT_FORMAT if key in EVALUATION_RATIOS else COEFFICIENT_FORMAT


def build_xlsx(content: dict, *, state_label: str = "", context: FormContext | None = None) -> bytes:
    ctx = context or FormContext(state_label=state_label)
    wb = Workbook()
    ws = wb.active
    ws.title = "Отчёт"
    _cell(ws, 1, 1, content["program"]["title"])
    ws["A1"].font = Font(bold=True)
    _cell(ws, 2, 1, f"{KIND_LABELS.get(content['kind'], 'Отчёт')} за {content['period_label']}")
    _cell(ws, 3, 1, f"Период: {content['period']}; редакция программы № {content['version']}")
    _cell(ws, 4, 1, f"Состояние: {ctx.state_label}" if ctx.state_label else None)
    _cell(ws, 5, 1, f"Ответственный исполнитель: {ctx.executor}" if ctx.executor else None)
    _cell(ws, 6, 1, "Пояснительная записка")
    ws["A6"].font = Font(bold=True)
    _cell(ws, 7, 1, content.get("note") or "")
    ws["A7"].alignment = Alignment(wrap_text=True, vertical="top")
    _cell(ws, 9, 1, "Отметка о принятии")
    ws["A9"].font = Font(bold=True)
    for r, line in enumerate(ctx.acceptance_lines(), 10):
        _cell(ws, r, 1, line)
    _cell(ws, 10 + len(ctx.acceptance_lines()) + 1, 1, f"Сформировано {ctx.formed()}")
    ws.column_dimensions["A"].width = 100

    ind = wb.create_sheet("Показатели")
    _header(ind, 1, INDICATOR_HEADER)
    for r, i in enumerate(content["indicators"], 2):
        for c, (value, fmt) in enumerate((
                (i["code"], None), (i["name"], None), (i["unit"], None),
                (number(i["plan"]), value_format(i["plan"])), (number(i["fact"]), value_format(i["fact"])),
                (number(i["achievement"]), PERCENT_FORMAT), (i.get("missing") or "", None)), 1):
            _cell(ind, r, c, value, fmt)
    ind.column_dimensions["B"].width = 80

    fin = wb.create_sheet("Финансирование")
    fin["A1"] = f"Единица измерения: {content['financing_unit']}"
    _header(fin, 2, FINANCING_HEADER)
    rows = content["financing"]
    total = content["financing_total"]
    for r, f in enumerate([*rows, {**total, "source_name": "Итого"}], 3):
        for c, (value, fmt) in enumerate(((f["source_name"], None), (number(f["plan"]), AMOUNT_FORMAT),
                                          (number(f["spent"]), AMOUNT_FORMAT),
                                          (number(f["execution"]), PERCENT_FORMAT)), 1):
            cell = _cell(fin, r, c, value, fmt)
            if r == 3 + len(rows):
                cell.font = Font(bold=True)
    fin.column_dimensions["A"].width = 40
    for col in "BCD":
        fin.column_dimensions[col].width = 18

    act = wb.create_sheet("Мероприятия")
    _header(act, 1, ACTIVITY_HEADER)
    for r, a in enumerate(content["activities"], 2):
        for c, value in enumerate((a["code"], a["title"], ctx.department(a["executor"]), _done(a["done"])), 1):
            _cell(act, r, c, value)
    act.column_dimensions["B"].width = 80
    act.column_dimensions["C"].width = 50

    evaluation = content.get("evaluation")
    if evaluation:
        ev = wb.create_sheet("Оценка эффективности")
        _header(ev, 1, ("Показатель оценки", "Значение", "Формула", "Примечание"))
        for r, (key, label) in enumerate(EVALUATION_ROWS, 2):
            fig = evaluation[key]
            for c, (value, fmt) in enumerate(((label, None), (number(fig["value"]), _evaluation_format(key)),
                                              (fig["formula"], None), (fig["missing"] or "", None)), 1):
                _cell(ev, r, c, value, fmt)
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


def _register_font() -> tuple[str, str]:
    """The regular and bold faces ('ReportSans', 'ReportSans-Bold'; bold falls back to regular)."""
    import os

    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "ReportSans" in pdfmetrics.getRegisteredFontNames():
        return "ReportSans", "ReportSans-Bold"
    paths = [os.environ.get("INTERDEPT_PDF_FONT", ""), *FONT_CANDIDATES]
    for path in paths:
        if path and os.path.exists(path):
            pdfmetrics.registerFont(TTFont("ReportSans", path))
            bold = re.sub(r"(\.ttf)$", r"-Bold\1", path, flags=re.I)
            pdfmetrics.registerFont(TTFont("ReportSans-Bold", bold if os.path.exists(bold) else path))
            addMapping("ReportSans", 0, 0, "ReportSans")
            addMapping("ReportSans", 1, 0, "ReportSans-Bold")
            addMapping("ReportSans", 0, 1, "ReportSans")
            addMapping("ReportSans", 1, 1, "ReportSans-Bold")
            return "ReportSans", "ReportSans-Bold"
    raise PdfUnavailable("Нет шрифта с кириллицей для PDF (задайте INTERDEPT_PDF_FONT — путь к TTF).")


def _evaluation_text(key: str, value: str | None) -> str:
    return format_percent(value) if key in EVALUATION_RATIOS else format_number(value, 2)


def build_pdf(content: dict, *, state_label: str = "", context: FormContext | None = None) -> bytes:
    """The same form as the workbook on A4 landscape: title block, tables, the acceptance block,
    'Страница N из M' and the date of forming on every page."""
    try:
        from xml.sax.saxutils import escape

        from reportlab.lib import colors
        from reportlab.lib.enums import TA_CENTER, TA_RIGHT
        from reportlab.lib.pagesizes import A4, landscape
        from reportlab.lib.styles import ParagraphStyle
        from reportlab.lib.units import mm
        from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise PdfUnavailable("PDF недоступен: не установлен пакет reportlab.") from exc
    ctx = context or FormContext(state_label=state_label)
    font, bold = _register_font()
    base = ParagraphStyle("base", fontName=font, fontSize=8, leading=10)
    num = ParagraphStyle("num", parent=base, alignment=TA_RIGHT)
    th = ParagraphStyle("th", parent=base, fontName=bold)
    title = ParagraphStyle("title", parent=base, fontName=bold, fontSize=13, leading=16, alignment=TA_CENTER)
    subtitle = ParagraphStyle("subtitle", parent=base, fontSize=11, leading=14, alignment=TA_CENTER,
                              spaceBefore=2)
    head = ParagraphStyle("head", parent=base, fontName=bold, fontSize=10, leading=13, spaceBefore=8,
                          spaceAfter=3)
    page_w, page_h = landscape(A4)
    margin = 12 * mm
    formed = ctx.formed()

    def p(text, style=base):
        return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)

    def table(header, rows, widths, numeric=(), total=False):
        """``numeric``: the columns drawn right-aligned; ``total``: the last row is bold."""
        body = [[p(c, th) for c in header]]
        for r, row in enumerate(rows):
            last = total and r == len(rows) - 1
            body.append([p(c, th if last and i == 0 else (num if i in numeric else base)) for i, c in
                         enumerate(row)])
        t = Table(body, colWidths=[w * mm for w in widths], repeatRows=1, hAlign="LEFT")
        style = [("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                 ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                 ("VALIGN", (0, 0), (-1, -1), "TOP")]
        if total:
            style.append(("BACKGROUND", (0, -1), (-1, -1), colors.whitesmoke))
        t.setStyle(TableStyle(style))
        return t

    def key_values(pairs):
        t = Table([[p(k, th), p(v)] for k, v in pairs], colWidths=[55 * mm, page_w - 2 * margin - 55 * mm],
                  hAlign="LEFT")
        t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                               ("TOPPADDING", (0, 0), (-1, -1), 1), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
        return t

    total = content["financing_total"]
    story = [
        p(content["program"]["title"], title),
        p(f"{KIND_LABELS.get(content['kind'], 'Отчёт')} за {content['period_label']}", subtitle),
        Spacer(1, 4 * mm),
        key_values([
            ("Ответственный исполнитель", ctx.executor or NOTHING),
            ("Отчётный период", content["period_label"]),
            ("Редакция программы", f"№ {content['version']}"),
            ("Состояние", ctx.state_label or NOTHING),
            ("Дата формирования", formed),
        ]),
        p("Целевые показатели", head),
        table(INDICATOR_HEADER, [[i["code"], i["name"], i["unit"], format_number(i["plan"]),
                                  format_number(i["fact"]), format_percent(i["achievement"]), i.get("missing") or ""]
                                 for i in content["indicators"]],
              (12, 108, 22, 24, 24, 24, 59), numeric=(3, 4, 5)),
        p(f"Финансирование, {content['financing_unit']}", head),
        table(FINANCING_HEADER,
              [[f["source_name"], format_amount(f["plan"]), format_amount(f["spent"]), format_percent(f["execution"])]
               for f in content["financing"]]
              + [["Итого", format_amount(total["plan"]), format_amount(total["spent"]),
                  format_percent(total["execution"])]],
              (110, 45, 45, 35), numeric=(1, 2, 3), total=True),
        p("Мероприятия", head),
        table(ACTIVITY_HEADER, [[a["code"], a["title"], ctx.department(a["executor"]), _done(a["done"])]
                                for a in content["activities"]], (14, 155, 80, 24)),
    ]
    evaluation = content.get("evaluation")
    if evaluation:
        story += [p("Оценка эффективности", head), table(
            ("Показатель оценки", "Значение", "Формула", "Примечание"),
            [[label, _evaluation_text(key, evaluation[key]["value"]), evaluation[key]["formula"],
              evaluation[key]["missing"] or ""] for key, label in EVALUATION_ROWS],
            (75, 25, 80, 93), numeric=(1,)),
            Spacer(1, 2 * mm),
            p(f"Оценка эффективности реализации программы: {evaluation.get('rating_label') or 'не рассчитана'}.")]
    story += [p("Пояснительная записка", head), p(content.get("note") or NOTHING)]
    story += [KeepTogether([p("Отметка о принятии", head), *[p(line) for line in ctx.acceptance_lines()]])]

    out = BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=margin + 4 * mm, title=content["program"]["title"],
                            subject=f"{KIND_LABELS.get(content['kind'], 'Отчёт')} за {content['period_label']}",
                            author=ctx.executor or "", creator="interdept", lang="ru")
    doc.build(story, canvasmaker=numbered_canvas(font, margin, page_w, formed))
    return out.getvalue()


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class ExportedReport:
    filename: str
    mimetype: str
    data: bytes


def department_names(session, passport=None) -> dict[str, str]:
    """code -> name: the departments table, the passport's names where the table has none."""
    names = {d.code: d.name for d in passport.departments} if passport is not None else {}
    names.update({code: name for code, name in session.execute(select(Department.code, Department.name))
                  if name})
    return names


def export_report(session, actor, report_id: int, fmt: str, *, tz: tzinfo | None = None,
                  now: datetime | None = None) -> ExportedReport:
    """The report form as a file (``xlsx`` or ``pdf``), for the API and the web page alike.

    ``tz`` is the municipality's zone (dates and times on the form), ``now`` the moment of forming.
    Raises PdfUnavailable when the PDF cannot be drawn here (no reportlab or no Cyrillic font).
    """
    report = rp.get_visible(session, actor, report_id)
    when = now or datetime.now(timezone.utc)
    content = rp.content_of(session, report, tz=tz or timezone.utc, today=when.astimezone(tz or timezone.utc).date())
    if report.registration_number:  # the title line of both forms: "… за 2016 год, рег. № ИТ-2026/00001 от 03.12.2026"
        content = {**content, "period_label": f"{content['period_label']}, рег. № {report.registration_number} "
                                              f"от {format_date(report.registration_date)}"}
    passport = rp.version_in_force(session, report.program, rp.period_bounds(report)[1]).passport
    names = department_names(session, passport)
    context = FormContext(
        state_label=rp.WORKFLOW.state_labels.get(report.state, report.state),
        executor=names.get(passport.executor, passport.executor), departments=names,
        acceptance=_acceptance(session, report, names), formed_at=when, tz=tz)
    name = f"report-{report.program.slug}-{report.period}.{fmt}"
    if fmt == "xlsx":
        return ExportedReport(name, XLSX_TYPE, build_xlsx(content, context=context))
    return ExportedReport(name, "application/pdf", build_pdf(content, context=context))


def numbered_canvas(font: str, margin: float, page_w: float, formed: str):
    """A reportlab canvas class whose footer says "Сформировано …" and "Страница N из M": pages are
    kept until the end, so each can say how many there are."""
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas as pdf_canvas

    class NumberedCanvas(pdf_canvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):  # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            count = len(self._pages)
            for number_, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                self.setFont(font, 7)
                self.setFillColor(colors.grey)
                self.drawString(margin, 7 * mm, f"Сформировано {formed}")
                self.drawRightString(page_w - margin, 7 * mm, f"Страница {number_} из {count}")
                super().showPage()
            super().save()

    return NumberedCanvas
