"""The watchers' copy of an item's event email: the parties' own message, plus one line saying why
it came and where to stop following.

Called by each item's mail handler after its parties, with the addresses already emailed, so a
watcher who is also a party gets one email. Whom to email is decided now, as the event is handled:
someone who lost sight of the item since they followed it gets nothing. The dedupe key is the
parties' (event id and address), so a redelivered event queues nothing twice.

The reminder mode (``services.preferences``) is honoured as the reminder sweep honours it: a
digest gathers what is due *at once*; an event is one message about one item, a digest of one,
so each watcher gets it as a single email whatever the mode.
"""
from __future__ import annotations

from services.adapters.mail import queue_email
from services.watchers import KIND_PATHS, KIND_WORDS, watchers_of


def email_watchers(uow, services, event, *, kind: str, item_id: int, template: str, context: dict,
                   already: set[str], item: str | None = None) -> int:
    """Queue ``template`` for each watcher not in ``already`` (addresses); returns how many were new."""
    watching = {"what": KIND_WORDS[kind],
                "url": f"{services.settings.base_url}/{KIND_PATHS[kind]}/{item_id}#watchers"}
    queued = 0
    for user in watchers_of(uow.session, kind, item_id):
        if user.email in already:
            continue
        already.add(user.email)
        if queue_email(uow, services, dedupe_key=f"{event.id}:{user.email}", recipient=user.email,
                       template=template, context={**context, "user": user, "watching": watching},
                       item=item) is not None:
            queued += 1
    return queued
