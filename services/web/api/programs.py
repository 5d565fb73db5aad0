"""Program registry endpoints."""
from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from services.web.api.auth import login_required
from services.web.api.contract import PageQuery, page_of, paginate
from services.web.api.program_views import program_view, version_view
from services.registry import indicator_actuals, list_versions, load_version
from services.web.context import current_services
from sqlalchemy import select
from services.models.registry import Program

blp = Blueprint("programs", __name__, url_prefix="/api/v1/programs", description="Муниципальные программы")


class ProgramSummaryOut(Schema):
    slug = fields.String()
    title = fields.String()
    version = fields.Integer()
    current_version = fields.Integer()
    period = fields.Dict(metadata={"description": "start, end: годы"})
    approved_by = fields.Dict(metadata={"description": "number, date: постановление об утверждении"})
    executor = fields.String()
    co_executors = fields.List(fields.String())
    reviewers = fields.List(fields.String())
    financing_total = fields.String(metadata={"description": "Десятичное число строкой"})


class ProgramOut(ProgramSummaryOut):
    departments = fields.List(fields.Dict())
    subprograms = fields.List(fields.Dict())
    goals = fields.List(fields.Dict())
    tasks = fields.List(fields.Dict())
    indicators = fields.List(fields.Dict())
    financing_unit = fields.String(allow_none=True)
    sources = fields.Dict()
    financing = fields.List(fields.Dict())
    financing_by_year = fields.List(fields.Dict())
    activities = fields.List(fields.Dict())
    amendments = fields.List(fields.Dict())
    version_resolution = fields.Dict()


class VersionOut(Schema):
    number = fields.Integer()
    resolution_number = fields.String(allow_none=True)
    resolution_date = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    created_at = fields.String()


@blp.route("")
@login_required
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(ProgramSummaryOut))
def list_programs(args):
    """Programs in the registry, with their current version."""
    with current_services().uow() as uow:
        found = paginate(uow.session.execute(select(Program.slug).order_by(Program.slug)).scalars().all(), args)
        found["items"] = [program_view(load_version(uow.session, slug), full=False) for slug in found["items"]]
    return found


@blp.route("/<slug>")
@login_required
@blp.response(200, ProgramOut)
def get_program(slug: str):
    """The current version: passport, indicators with targets and actuals, financing, amendments."""
    with current_services().uow() as uow:
        loaded = load_version(uow.session, slug)
        return program_view(loaded, indicator_actuals(uow.session, loaded.program.id))


@blp.route("/<slug>/versions")
@login_required
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(VersionOut))
def get_versions(args, slug: str):
    """Every adopted version, oldest first."""
    with current_services().uow() as uow:
        return paginate([version_view(v) for v in list_versions(uow.session, slug)], args)


@blp.route("/<slug>/versions/<int:number>")
@login_required
@blp.response(200, ProgramOut)
def get_version(slug: str, number: int):
    """One version's passport as it was adopted."""
    with current_services().uow() as uow:
        loaded = load_version(uow.session, slug, number)
        return program_view(loaded, indicator_actuals(uow.session, loaded.program.id))
