"""Program registry endpoints."""
from __future__ import annotations

from flask_smorest import Blueprint

from services.web.api.auth import login_required
from services.web.api.program_views import program_view, version_view
from services.registry import indicator_actuals, list_versions, load_version
from services.web.context import current_services
from sqlalchemy import select
from services.models.registry import Program

blp = Blueprint("programs", __name__, url_prefix="/api/v1/programs", description="Муниципальные программы")


@blp.route("")
@login_required
def list_programs():
    """Programs in the registry, with their current version."""
    with current_services().uow() as uow:
        programs = uow.session.execute(select(Program).order_by(Program.slug)).scalars().all()
        items = [program_view(load_version(uow.session, p.slug), full=False) for p in programs]
    return {"items": items, "total": len(items)}


@blp.route("/<slug>")
@login_required
def get_program(slug: str):
    """The current version: passport, indicators with targets and actuals, financing, amendments."""
    with current_services().uow() as uow:
        loaded = load_version(uow.session, slug)
        return program_view(loaded, indicator_actuals(uow.session, loaded.program.id))


@blp.route("/<slug>/versions")
@login_required
def get_versions(slug: str):
    """Every adopted version, oldest first."""
    with current_services().uow() as uow:
        return {"items": [version_view(v) for v in list_versions(uow.session, slug)]}


@blp.route("/<slug>/versions/<int:number>")
@login_required
def get_version(slug: str, number: int):
    """One version's passport as it was adopted."""
    with current_services().uow() as uow:
        loaded = load_version(uow.session, slug, number)
        return program_view(loaded, indicator_actuals(uow.session, loaded.program.id))
