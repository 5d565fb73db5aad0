"""Amendment endpoints, and the diff between two program versions."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from services import amendments as am, lists
from services.web.api.auth import login_required
from services.web.api.contract import (
    HistoryEntryOut, ListQuery, PageQuery, history_view, page, page_of, paginate, refuses, sort_field,
)
from services.web.context import current_services
from services.web.fields import (
    CODE, COMMENT, DAYS, LONG_TEXT, RESOLUTION_NUMBER, SHORT, SLUG, VERSION, change_set_shape, text_entries,
)

blp = Blueprint("amendments", __name__, url_prefix="/api/v1", description="Изменения в программы")

STATES = ("draft", "under_review", "returned", "approved", "adopted", "withdrawn")


class AmendmentCreate(Schema):
    program = SLUG.field(required=True)
    base_version = VERSION.field(load_default=None)
    justification = LONG_TEXT.field(required=True)
    changes = fields.Dict(required=True, validate=change_set_shape)
    review_working_days = DAYS.field(load_default=None)


class AmendmentUpdate(Schema):
    justification = LONG_TEXT.field(load_default=None)
    changes = fields.Dict(load_default=None, validate=change_set_shape)
    comment = COMMENT.field(load_default="")
    version = VERSION.field(load_default=None)


class AmendmentTransitionIn(Schema):
    event = CODE.field(required=True)
    comment = COMMENT.field(load_default="")
    data = fields.Dict(load_default=dict, validate=text_entries(remarks=LONG_TEXT, resolution_number=RESOLUTION_NUMBER,
                                                                resolution_date=SHORT))
    version = fields.Integer(strict=True, load_default=None)


class AmendmentListQuery(ListQuery):
    program = fields.String(load_default=None)
    state = fields.String(load_default=None, validate=validate.OneOf(STATES))
    sort = sort_field(lists.AMENDMENT_SORTS, "-id")


class AmendmentOut(Schema):
    """One amendment; the single read (and every change) adds revisions, decisions, revision_diff, effect."""

    id = fields.Integer()
    program = fields.String()
    base_version = fields.Integer()
    current_version = fields.Integer()
    stale_base = fields.Boolean()
    state = fields.String()
    state_label = fields.String()
    revision = fields.Integer()
    justification = fields.String()
    changes = fields.Dict()
    reviews = fields.Dict(metadata={"description": "Решение каждого согласующего подразделения по текущей редакции"})
    allowed_events = fields.List(fields.String())
    review_working_days = fields.Integer(allow_none=True)
    submitted_at = fields.String(allow_none=True)
    registration_number = fields.String(allow_none=True, metadata={
        "description": "Регистрационный номер; присваивается при первой передаче на согласование (до этого null)"})
    registration_date = fields.String(allow_none=True, metadata={"description": "Дата регистрации, ГГГГ-ММ-ДД"})
    due_date = fields.String(allow_none=True)
    due_at = fields.String(allow_none=True)
    adopted_version = fields.Integer(allow_none=True)
    sequence = fields.Integer(allow_none=True)
    resolution = fields.Dict(allow_none=True)
    created_by_id = fields.Integer(allow_none=True)
    created_at = fields.String()
    version = fields.Integer()
    revisions = fields.List(fields.Dict())
    decisions = fields.List(fields.Dict())
    revision_diff = fields.Raw(allow_none=True)
    effect = fields.Raw(allow_none=True)
    rebase = fields.Dict(metadata={"description": "После rebase: from, to и ячейки, изменённые с тех пор (conflicts)"})


class AdoptedOut(Schema):
    sequence = fields.Integer()
    date = fields.String()
    number = fields.String(allow_none=True)
    state = fields.String()
    seeded = fields.Boolean()
    amendment = fields.Integer(allow_none=True)
    version = fields.Integer(allow_none=True)


class AmendmentPage(page_of(AmendmentOut)):
    history = fields.List(fields.Nested(AdoptedOut), metadata={
        "description": "С фильтром program: принятые изменения программы, включая исходные"})


RevisionDiffOut = Schema.from_dict({"amendment": fields.Integer(), "from": fields.Integer(), "to": fields.Integer(),
                                    "changes": fields.Raw()}, name="RevisionDiffOut")


class ApprovalOut(Schema):
    department = fields.String()
    user_id = fields.Integer(allow_none=True)
    at = fields.String()
    revision = fields.Integer()


class ProvenanceOut(Schema):
    version = fields.Integer()
    resolution_number = fields.String(allow_none=True)
    resolution_date = fields.String(allow_none=True)
    created_at = fields.String()
    created_by_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    amendment = fields.Integer(allow_none=True)
    approvals = fields.List(fields.Nested(ApprovalOut))


VersionDiffOut = Schema.from_dict({"program": fields.String(), "from": fields.Integer(), "to": fields.Integer(),
                                   "changes": fields.Raw(), "adopted_by": fields.List(fields.Nested(ProvenanceOut))},
                                  name="VersionDiffOut")


def amendment_view(session, actor, a, *, full: bool = True, report: dict | None = None) -> dict:
    passport = am.current_passport(session, a)
    view = {
        "id": a.id,
        "program": a.program.slug,
        "base_version": a.base_version,
        "current_version": a.program.current_version,
        "stale_base": a.base_version != a.program.current_version and a.state not in ("adopted", "withdrawn"),
        "state": a.state,
        "state_label": am.WORKFLOW.state_labels.get(a.state, a.state),
        "revision": a.revision,
        "justification": a.justification,
        "changes": a.changes,
        "reviews": am.review_status(session, a, passport),
        "allowed_events": am.WORKFLOW.allowed_events(a, am.parties(actor, passport)),
        "review_working_days": a.review_working_days,
        "submitted_at": a.submitted_at.isoformat() if a.submitted_at else None,
        "registration_number": a.registration_number,
        "registration_date": a.registration_date.isoformat() if a.registration_date else None,
        "due_date": a.due_date.isoformat() if a.due_date else None,
        "due_at": a.due_at.isoformat() if a.due_at else None,
        "adopted_version": a.adopted_version,
        "sequence": a.sequence,
        "resolution": ({"number": a.resolution_number, "date": a.resolution_date.isoformat()}
                       if a.resolution_date else None),
        "created_by_id": a.created_by_id,
        "created_at": a.created_at.isoformat(),
        "version": a.version,
    }
    if full:
        revisions = am.revisions_of(session, a.id)
        view["revisions"] = [{"revision": r.revision, "base_version": r.base_version,
                              "justification": r.justification, "changes": r.changes,
                              "created_by_id": r.created_by_id, "at": r.created_at.isoformat()} for r in revisions]
        view["decisions"] = [{"department": r.department, "revision": r.revision, "decision": r.decision,
                              "remarks": r.remarks, "user_id": r.user_id, "at": r.at.isoformat()}
                             for r in am.reviews_of(session, a.id)]
        # What reviewers need most: what the latest revision changed against the one before.
        view["revision_diff"] = (am.diff_changesets(revisions[-2].changes, revisions[-1].changes)
                                 if len(revisions) > 1 else None)
        view["effect"] = am.effect_of(session, a)
    if report:
        view.update(report)
    return view


@blp.route("/amendments", methods=["POST"])
@login_required
@blp.arguments(AmendmentCreate)
@blp.response(201, AmendmentOut)
@refuses(blp, 403, 404, 409)  # 404: no such program
def create(body):
    """Draft a change set against a program version (the current one unless ``base_version`` is given)."""
    services = current_services()
    with services.uow() as uow:
        a = am.create_amendment(uow, services, g.actor, am.NewAmendment(**body))
        uow.commit()
        return amendment_view(uow.session, g.actor, a)


@blp.route("/amendments")
@login_required
@blp.arguments(AmendmentListQuery, location="query", unknown=RAISE)
@blp.response(200, AmendmentPage)
def list_(args):
    """Amendments the caller may see; with ``program``, also the program's adopted history (seed included)."""
    with current_services().uow() as uow:
        query = {k: v for k, v in args.items() if k != "page_size"}
        found = lists.amendment_page(uow.session, g.actor, lists.AmendmentQuery(**query, per_page=args["page_size"]),
                                     now=current_services().now(), count_limit=None, clamp=False)
        result = page([amendment_view(uow.session, g.actor, a, full=False) for a in found.items], found.total, args)
        if args["program"] and args["state"] in (None, "adopted"):
            result["history"] = am.adopted_history(uow.session, g.actor, args["program"])
        return result


@blp.route("/amendments/<int:amendment_id>")
@login_required
@blp.response(200, AmendmentOut)
def get(amendment_id: int):
    """The change set, its revisions, each department's decision on the current revision, ``allowed_events``."""
    with current_services().uow() as uow:
        return amendment_view(uow.session, g.actor, am.get_visible(uow.session, g.actor, amendment_id))


@blp.route("/amendments/<int:amendment_id>", methods=["PUT"])
@login_required
@blp.arguments(AmendmentUpdate)
@blp.response(200, AmendmentOut)
@refuses(blp, 403, 409)
def update(body, amendment_id: int):
    """Revise the change set (a new revision: earlier approvals lapse); ``version`` guards against lost edits."""
    services = current_services()
    with services.uow() as uow:
        a = am.revise(uow, services, g.actor, amendment_id, changes=body["changes"],
                      justification=body["justification"], expected_version=body["version"],
                      comment=body["comment"])
        uow.commit()
        return amendment_view(uow.session, g.actor, a)


@blp.route("/amendments/<int:amendment_id>/transitions", methods=["POST"])
@login_required
@blp.arguments(AmendmentTransitionIn)
@blp.response(200, AmendmentOut)
@refuses(blp, 403, 409)
def transition(body, amendment_id: int):
    """Fire an event: submit_for_review, approve, return, revise, rebase, adopt, withdraw."""
    services = current_services()
    with services.uow() as uow:
        a, report = am.fire_transition(uow, services, g.actor, amendment_id, body["event"], body["comment"],
                                       body["data"], expected_version=body["version"])
        uow.commit()
        return amendment_view(uow.session, g.actor, a, report=report)


@blp.route("/amendments/<int:amendment_id>/rebase", methods=["POST"])
@login_required
@blp.response(200, AmendmentOut)
@refuses(blp, 403, 409)
def rebase(amendment_id: int):
    """Move the base to the current version; reports the cells also changed by versions adopted since."""
    services = current_services()
    with services.uow() as uow:
        a, report = am.fire_transition(uow, services, g.actor, amendment_id, "rebase")
        uow.commit()
        return amendment_view(uow.session, g.actor, a, report=report)


@blp.route("/amendments/<int:amendment_id>/history")
@login_required
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(HistoryEntryOut))
def history(args, amendment_id: int):
    """Every transition: who, which role, from, to, when, comment; oldest first."""
    with current_services().uow() as uow:
        return paginate(history_view(am.history(uow.session, g.actor, amendment_id)), args)


@blp.route("/amendments/<int:amendment_id>/revisions/<int:a>/diff/<int:b>")
@login_required
@blp.response(200, RevisionDiffOut)
def revision_diff(amendment_id: int, a: int, b: int):
    """How the change set differs between two of its revisions."""
    with current_services().uow() as uow:
        return {"amendment": amendment_id, "from": a, "to": b,
                "changes": am.revision_diff(uow.session, g.actor, amendment_id, a, b)}


@blp.route("/programs/<slug>/versions/<int:a>/diff/<int:b>")
@login_required
@blp.response(200, VersionDiffOut)
def version_diff(slug: str, a: int, b: int):
    """Exactly what changed between two versions: cells with old/new values and the totals, targets, activities, text."""
    with current_services().uow() as uow:
        return am.version_diff(uow.session, g.actor, slug, a, b)


@blp.route("/programs/<slug>/versions/<int:number>/approvals")
@login_required
@blp.response(200, ProvenanceOut)
def version_approvals(slug: str, number: int):
    """Who approved a version and when (the adopting amendment's reviews and resolution)."""
    with current_services().uow() as uow:
        program = am.get_program(uow.session, slug)
        if not am.can_see(g.actor, am.load_version(uow.session, slug).passport):
            raise am.NotFound(f"Программа «{slug}» не найдена.")
        return am.version_provenance(uow.session, program, number)


@blp.route("/programs/<slug>/amendments")
@login_required
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(AdoptedOut))
def program_amendments(args, slug: str):
    """The program's adopted amendments, oldest first: the seeded history, then those adopted here."""
    with current_services().uow() as uow:
        return paginate(am.adopted_history(uow.session, g.actor, slug), args)
