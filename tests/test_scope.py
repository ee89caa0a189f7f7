"""The words test of the scope check: export-control vocabulary keeps a question in scope."""

from __future__ import annotations

import pytest

from assistant.scope import uses_export_control_vocabulary


@pytest.mark.parametrize(("question", "expected"), [
    ("Do we need a licence to ship thermal cameras to Brazil?", True),
    ("How much is the annual DDTC registration fee under ITAR part 122?", True),  # arms export control
    ("Which licences cover 5A001.j?", True),
    ("Is a licence exception available for encryption items?", True),
    # A licence plate is not a licence: privacy law on plate-reader records is another field.
    ("Must we delete licence-plate-reader records when a driver asks us to?", False),
    ("How long may our license plate cameras keep images under state privacy law?", False),
    ("What VAT applies to cameras we import?", False),
    # Transit and proliferation controls are export control, though "port" and "import" sound like customs.
    ("Cameras are in transit through Rotterdam; can the authorities stop them if they may go to a missile "
     "programme?", True),
    ("Does a military end user abroad change anything for our thermal cameras?", True),
])
def test_export_control_words(question: str, expected: bool) -> None:
    assert uses_export_control_vocabulary(question) is expected
