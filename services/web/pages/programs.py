"""Program pages: passport, indicators with plan-vs-fact charts, financing, versions; and the public page."""
from __future__ import annotations

from decimal import Decimal

from flask import redirect, render_template, request, url_for

from services import amendments as am
from services import reports as rp
from services.registry import indicator_actuals, list_versions, load_version
from services.web.pages import svg
from services.web.pages.common import actor, as_int, bp, login_required, matches, paginate, services
from services.web.pages.lists import department_names, programs_visible
from workflows.core import NotFound


def _fact_by_year(actuals: dict[str, Decimal], year: int) -> tuple[Decimal | None, str | None]:
    """The year's value, else its latest quarter's (named, so the chart does not pass it off as annual)."""
    if str(year) in actuals:
        return actuals[str(year)], None
    for q in (4, 3, 2, 1):
        key = f"{year}-Q{q}"
        if key in actuals:
            return actuals[key], key
    return None, None


def indicator_rows(passport, actuals: dict | None, *, charts: bool = True) -> list[dict]:
    years = list(range(passport.period_start, passport.period_end + 1))
    rows = []
    for ind in passport.indicators:
        got = (actuals or {}).get(ind.code, {})
        fact, notes = {}, []
        for y in years:
            value, quarter = _fact_by_year(got, y)
            fact[y] = value
            if quarter:
                notes.append(quarter)
        plan = {y: ind.targets.get(y) for y in years}
        row = {"ind": ind, "plan": plan, "fact": fact, "quarters": notes, "years": years,
               "has_data": any(v is not None for v in [*plan.values(), *fact.values()])}
        if charts and row["has_data"]:
            row["chart"] = svg.plan_fact_chart(f"{ind.code}. {ind.name}: план и факт по годам", years, plan, fact,
                                               unit=ind.unit)
        rows.append(row)
    return rows


def financing_view(passport) -> dict:
    years = sorted({c.year for c in passport.financing})
    cells = {(c.year, c.source): c.amount for c in passport.financing}
    series = [(name, {y: cells.get((y, code), Decimal(0)) for y in years}) for code, name in passport.sources.items()]
    return {
        "years": years, "cells": cells, "sources": passport.sources,
        "year_totals": {y: passport.year_total(y) for y in years},
        "source_totals": {code: sum((cells.get((y, code), Decimal(0)) for y in years), Decimal(0))
                          for code in passport.sources},
        "total": passport.financing_total(),
        "chart": svg.stacked_chart(f"Финансирование по годам и источникам, {passport.financing_unit}", years, series,
                                   unit=passport.financing_unit),
    }


@bp.route("/programs")
@login_required
def programs_list():
    q = request.args.get("q", "").strip()
    with services().uow() as uow:
        rows = [p for p in programs_visible(uow.session, actor())
                if matches(q, p.program.slug, p.passport.title)]
        return render_template("webui/programs_list.html", page=paginate(rows), q=q)


@bp.route("/programs/<slug>")
@login_required
def program_page(slug: str):
    me = actor()
    with services().uow() as uow:
        session = uow.session
        loaded = load_version(session, slug)
        if not rp.can_see(me, loaded.passport):
            raise NotFound(f"Программа «{slug}» не найдена.")
        p = loaded.passport
        versions = list_versions(session, slug)
        provenance = {v.number: am.version_provenance(session, loaded.program, v.number) for v in versions}
        return render_template(
            "webui/program.html", loaded=loaded, p=p, names=department_names(session),
            indicators=indicator_rows(p, indicator_actuals(session, loaded.program.id)),
            financing=financing_view(p), versions=versions, provenance=provenance,
            history=am.adopted_history(session, me, slug),
            may_amend=bool(am.parties(me, p) & {"executor", "admin"}),
        )


@bp.route("/programs/<slug>/versions/<int:a>/diff/<int:b>")
@login_required
def version_diff_page(slug: str, a: int, b: int):
    qa, qb = as_int(request.args.get("a")), as_int(request.args.get("b"))
    if qa is not None and qb is not None:
        return redirect(url_for("webui.version_diff_page", slug=slug, a=qa, b=qb))
    with services().uow() as uow:
        diff = am.version_diff(uow.session, actor(), slug, a, b)
        loaded = load_version(uow.session, slug)
        return render_template("webui/version_diff.html", diff=diff, p=loaded.passport, slug=slug,
                               names=department_names(uow.session), versions=list_versions(uow.session, slug))


def public_program_page(slug: str):
    """No sign-in: the adopted passport's plans and the published reports, nothing internal."""
    with services().uow() as uow:
        loaded = load_version(uow.session, slug)
        published = rp.public_program(uow.session, slug)
        p = loaded.passport
        reports = []
        published_facts: dict[str, dict[str, Decimal]] = {}
        for rep in published["reports"]:
            c = rep["content"]
            for i in c.get("indicators", []):
                if i.get("fact") is not None:
                    published_facts.setdefault(i["code"], {})[rep["period"]] = Decimal(i["fact"])
            reports.append({**rep, "bars": {i["code"]: svg.ratio_bar(i.get("achievement"), f"Достижение {i['code']}")
                                           for i in c.get("indicators", [])}})
        return render_template(
            "webui/public_program.html", loaded=loaded, p=p, names={d.code: d.name for d in p.departments},
            indicators=indicator_rows(p, published_facts), financing=financing_view(p), reports=reports,
            slug=slug,
        )
