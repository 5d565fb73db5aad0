"""Each workflow's state diagram, drawn from its definition, with its transitions as a table."""
from __future__ import annotations

from flask import render_template

from services import amendments as am
from services import information_requests as ir
from services import reports as rp
from services.web.pages import svg
from services.web.pages.common import bp, login_required

WORKFLOWS = {
    "information_request": ("Запрос информации", ir.WORKFLOW),
    "report": ("Отчёт о ходе реализации", rp.WORKFLOW),
    "amendment": ("Изменения в программу", am.WORKFLOW),
}
PARTY_LABELS = {
    "requester": "запросившее подразделение", "addressee": "подразделение-адресат",
    "addressee_head": "руководитель адресата", "executor": "ответственный исполнитель",
    "economic_policy": "отдел экономической политики", "finance": "финансовый отдел",
    "admin": "администратор", "system": "система (автоматически)",
}


@bp.route("/workflows")
@login_required
def workflows_page():
    items = [{"key": key, "title": title, "diagram": svg.state_diagram(wf), "rows": svg.transitions_table(wf),
              "mermaid": wf.mermaid_for_people()} for key, (title, wf) in WORKFLOWS.items()]
    return render_template("webui/workflows.html", items=items, party_labels=PARTY_LABELS)
