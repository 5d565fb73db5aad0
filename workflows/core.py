"""The workflow core: declarative machines with the parties allowed to fire each event.

A workflow is a python-statemachine class (states and transitions, validators
for guards) plus a table of which *parties* may fire each event. A party is the
caller's relation to the item ("requester", "addressee", "economic_policy", ...)
computed by the workflow from the caller and the item, so the same rules read
the same in the API, the web pages and the tests.

Events are fired with ``getattr(machine, event)()`` rather than
``machine.send(event)``: an event called ``send`` (information requests have
one) shadows ``StateMachine.send`` on the instance.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Mapping

from statemachine import StateMachine
from statemachine.contrib.diagram.formatter import formatter
from statemachine.exceptions import TransitionNotAllowed


class Refusal(Exception):
    """A reasoned 'no' that reaches the user; ``status`` is the HTTP meaning."""

    status: ClassVar[int] = 409
    code: ClassVar[str] = "conflict"

    def __init__(self, message: str, *, fields: Mapping[str, Any] | None = None, **details: Any):
        super().__init__(message)
        self.message = message
        self.fields = dict(fields) if fields else None
        self.details = details


class NotAllowedNow(Refusal):
    status = 409
    code = "transition_not_allowed"
    # What is possible instead, in words, for a page; the API gives the events' ids (details).
    allowed_labels: tuple[str, ...] | None = None


class Forbidden(Refusal):
    status = 403
    code = "forbidden"


class Invalid(Refusal):
    status = 422
    code = "invalid"


class Conflict(Refusal):
    status = 409
    code = "conflict"


class NotFound(Refusal):
    status = 404
    code = "not_found"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user of one department with one or more roles."""

    user_id: int | None
    department: str | None
    roles: frozenset[str] = frozenset()
    is_head: bool = False
    name: str = ""
    # Where the caller came from (the entrypoint knows; CLI and workers leave it None).
    address: str | None = None

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


# "a --> b : Event name [guard]" in the renderer's text; the guard is a code name, left out.
_EDGE_LABEL = re.compile(r" : ([^\[]+?)(?: \[[^\]]*\])?$")

SYSTEM = Actor(user_id=None, department=None, roles=frozenset({"system"}), name="system")


@dataclass(frozen=True)
class TransitionResult:
    event: str
    source: str
    target: str


@dataclass
class Workflow:
    """A machine class, the parties allowed per event and their Russian labels."""

    name: str
    machine: type[StateMachine]
    permissions: Mapping[str, frozenset[str]]
    state_labels: Mapping[str, str] = field(default_factory=dict)
    event_labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        events = {e.id for e in self.machine.events}
        missing = events - set(self.permissions)
        unknown = set(self.permissions) - events
        if missing or unknown:
            raise TypeError(f"{self.name}: permissions missing {sorted(missing)}, unknown {sorted(unknown)}")

    @property
    def events(self) -> list[str]:
        return [e.id for e in self.machine.events]

    @property
    def states(self) -> list[str]:
        return [s.value for s in self.machine.states]

    def bind(self, item: Any) -> StateMachine:
        return self.machine(model=item, state_field="state")

    def events_from(self, state: str) -> list[str]:
        """Events that leave ``state`` at all, whoever fires them (python-statemachine's own list)."""
        found = next((st for st in self.machine.states if st.value == state), None)
        leaving = {e.id for e in found.transitions.unique_events} if found is not None else set()
        return [e for e in self.events if e in leaving]

    def allowed_events(self, item: Any, parties: Iterable[str]) -> list[str]:
        parties = set(parties)
        return [e for e in self.events_from(item.state) if parties & self.permissions[e]]

    def check(self, item: Any, event: str, parties: Iterable[str]) -> None:
        """Who, then when: raise the refusal a caller gets, before any data is looked at."""
        parties = set(parties)
        if event not in self.permissions:
            raise Invalid(
                f"Неизвестное действие «{event}».",
                fields={"event": [f"Допустимые значения: {', '.join(self.events)}"]},
            )
        if not parties & self.permissions[event]:
            raise Forbidden(f"Действие «{self.event_labels.get(event, event)}» вам не разрешено.")
        if event not in self.events_from(item.state):
            raise self._not_now(
                f"Действие «{self.event_labels.get(event, event)}» невозможно в состоянии "
                f"«{self.state_labels.get(item.state, item.state)}».",
                self.allowed_events(item, parties),
            )

    def _not_now(self, message: str, allowed: list[str]) -> NotAllowedNow:
        refusal = NotAllowedNow(message, allowed_events=allowed)
        refusal.allowed_labels = tuple(self.event_labels.get(e, e) for e in allowed)
        return refusal

    def fire(self, item: Any, event: str, parties: Iterable[str], **data: Any) -> TransitionResult:
        """Check who, then when, then the guards; on success ``item.state`` has changed.

        Refusals leave the item untouched: validators run before the state is set.
        """
        parties = set(parties)
        self.check(item, event, parties)
        source = item.state
        allowed = self.allowed_events(item, parties)
        machine = self.bind(item)
        try:
            getattr(machine, event)(**data)
        except TransitionNotAllowed:
            # A cond= rejected every candidate transition.
            raise self._not_now(f"Действие «{self.event_labels.get(event, event)}» сейчас невозможно.",
                                allowed) from None
        return TransitionResult(event=event, source=source, target=item.state)

    def mermaid(self, current: str | None = None) -> str:
        """State diagram text from python-statemachine's renderer, its event names put in Russian."""
        labels = {e.name: self.event_labels.get(e.id, e.name) for e in self.machine.events}
        lines = [_EDGE_LABEL.sub(lambda m: " : " + labels.get(m.group(1), m.group(1)), line)
                 for line in formatter.render(self.machine, "mermaid").splitlines()]
        if current:
            lines.append("    classDef current fill:#ffd54f,stroke:#e65100")
            lines.append(f"    class {current} current")
        return "\n".join(lines)

    def mermaid_for_people(self) -> str:
        """The same diagram for a page: states are "s1", "s2", … beside their Russian names, so no
        English identifier ("draft", "under_review") is shown to a reader."""
        text = self.mermaid()
        ids = [state.id for state in self.machine.states]
        aliases = {state_id: f"s{n}" for n, state_id in enumerate(ids, start=1)}
        pattern = re.compile(r"(?<![\w*])(" + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
                             + r")(?!\w)")
        out = []
        for line in text.splitlines():
            head, sep, label = line.partition(" : ")  # an edge's Russian label is left as it is
            if line.lstrip().startswith("state "):
                name, _, alias = line.rpartition(" as ")
                out.append(f"{name} as {aliases.get(alias.strip(), alias)}")
            else:
                out.append(pattern.sub(lambda m: aliases[m.group(1)], head) + sep + label)
        return "\n".join(out)
