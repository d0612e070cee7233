"""docs/detections.md is generated from the catalogue and must not go stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from riposte.sources.cloudtrail import catalogue_doc
from riposte.sources.cloudtrail.detections.base import DETECTIONS
from tests.conftest import ROOT

DOC = ROOT / "docs" / "detections.md"


def test_the_reference_is_up_to_date_with_the_catalogue() -> None:
    assert DOC.read_text(encoding="utf-8") == catalogue_doc.render(), (
        f"docs/detections.md is stale: run `{catalogue_doc.COMMAND}`"
    )


@pytest.mark.parametrize("name", DETECTIONS.names())
def test_every_detection_is_listed_with_its_severity_response_and_references(name: str) -> None:
    d = DETECTIONS.get(name)
    text = catalogue_doc.render()
    row = next(line for line in text.splitlines() if line.startswith(f"| [`{name}`]"))
    assert f"| {d.severity} | {d.response} |" in row
    section = text.split(f'<a id="{name}"></a>', 1)[1].split("<a id=", 1)[0]
    assert f"**Severity** {d.severity} · **Default response** {d.response}" in section
    assert d.remediation in section
    for reference in d.references:
        assert reference in section


def test_mitre_and_stratus_references_link_to_their_pages() -> None:
    text = catalogue_doc.render()
    assert "[MITRE ATT&CK T1562.008](https://attack.mitre.org/techniques/T1562/008/)" in text
    assert "[MITRE ATT&CK T1098](https://attack.mitre.org/techniques/T1098/)" in text
    stratus = "aws.defense-evasion.cloudtrail-stop"
    assert f"[Stratus Red Team {stratus}](https://stratus-red-team.cloud/attack-techniques/AWS/{stratus}/)" in text


def test_the_check_mode_fails_on_a_stale_file_and_writing_fixes_it(tmp_path: Path) -> None:
    target = tmp_path / "detections.md"
    target.write_text("stale\n")
    assert catalogue_doc.main(["--check", str(target)]) == 1
    assert catalogue_doc.main([str(target)]) == 0
    assert catalogue_doc.main(["--check", str(target)]) == 0
