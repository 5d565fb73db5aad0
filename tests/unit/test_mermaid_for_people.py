"""The diagram text on /workflows names states in Russian only; the edges stay those of the machine."""
import re

import pytest

from workflows.amendment import AMENDMENT
from workflows.information_request import INFORMATION_REQUEST
from workflows.report import REPORT


@pytest.mark.parametrize("workflow", [INFORMATION_REQUEST, REPORT, AMENDMENT], ids=lambda w: w.name)
def test_no_english_state_id_and_the_same_edges(workflow):
    text = workflow.mermaid_for_people()
    ids = [s.id for s in workflow.machine.states]
    assert not [i for i in ids if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", text)], text
    aliases = dict(re.findall(r'state "([^"]+)" as (s\d+)', text))
    assert sorted(aliases) == sorted(workflow.state_labels[i] for i in ids)
    edges = lambda t: len(re.findall(r"-->", t))  # noqa: E731
    assert edges(text) == edges(workflow.mermaid())
