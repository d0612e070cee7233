"""The wire models against GuardDuty's own service model (botocore's, which boto3 and the AWS CLI use to name
keys): every field accepts the model's camelCase locationName and its PascalCase member name, and every camelCase
fixture, rewritten the way boto3 prints it, gives the same event."""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.loaders import Loader
from pydantic import AliasChoices, BaseModel

from riposte import sources
from riposte.sources.guardduty import wire
from tests.conftest import GUARDDUTY

SHAPES: dict[str, Any] = Loader().load_service_model("guardduty", "service-2")["shapes"]


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside an annotation (``X | None``, ``list[X]``, ``Annotated[...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _member_shape(shape: dict[str, Any]) -> dict[str, Any]:
    while shape["type"] == "list":
        shape = SHAPES[shape["member"]["shape"]]
    return shape


def _walk(model: type[BaseModel], shape_name: str, path: str, seen: list[str]) -> None:
    shape = _member_shape(SHAPES[shape_name])
    members = {m.get("locationName", name): (name, m["shape"]) for name, m in shape["members"].items()}
    for field_name, field in model.model_fields.items():
        alias = field.validation_alias
        assert isinstance(alias, AliasChoices), f"{path}.{field_name} has no explicit aliases"
        choices = [c for c in alias.choices if isinstance(c, str)]
        found = [c for c in choices if c in members]
        assert found, f"{path}.{field_name}: none of {choices} is a member of {shape_name}"
        member, sub_shape = members[found[0]]
        assert {found[0], member} <= set(choices), f"{path}.{field_name}: needs both {found[0]!r} and {member!r}"
        seen.append(f"{path}.{found[0]}")
        for sub in _models(field.annotation):
            _walk(sub, sub_shape, f"{path}.{found[0]}", seen)


def test_every_field_accepts_both_of_the_service_models_spellings() -> None:
    seen: list[str] = []
    _walk(wire.Finding, "Finding", "finding", seen)
    # The walk reached the deep members too (it cannot pass by skipping them).
    assert "finding.service.action.rdsLoginAttemptAction.LoginAttributes" in seen
    assert "finding.service.action.kubernetesApiCallAction.sourceIPs" in seen
    assert "finding.service.detection.sequence.actors.user.account.account" in seen
    assert len(seen) > 200


def to_pascal(value: Any, shape_name: str) -> Any:
    """What boto3 prints for a camelCase finding: member names, nulls dropped, timestamps as ISO strings,
    EventBridge-only extras (flattened additionalInfo keys) gone, map keys untouched."""
    shape = SHAPES[shape_name]
    kind = shape["type"]
    if kind == "structure":
        members = {m.get("locationName", name): (name, m["shape"]) for name, m in shape["members"].items()}
        return {members[k][0]: to_pascal(v, members[k][1]) for k, v in value.items() if k in members and v is not None}
    if kind == "list":
        return [to_pascal(v, shape["member"]["shape"]) for v in value]
    if kind == "map":
        return {k: to_pascal(v, shape["value"]["shape"]) for k, v in value.items()}
    if kind == "timestamp" and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return value


CAMEL = [p for p in sorted(GUARDDUTY.glob("*.json")) if "detail" in json.loads(p.read_text())]


@pytest.mark.parametrize("sample", CAMEL, ids=lambda p: p.name)
def test_get_findings_output_of_every_fixture_gives_the_same_event(sample: Path) -> None:
    raw = json.loads(sample.read_text())
    pascal = to_pascal(raw["detail"], "Finding")
    assert "SchemaVersion" in pascal
    assert sources.normalize(pascal) == sources.normalize(raw)


def test_the_pascal_fixtures_are_what_boto3_prints_for_their_camel_twins() -> None:
    pairs = {
        "getfindings_pascal_eks_sourceips": "eks_audit_malicious_ip_sourceips",
        "getfindings_pascal_iam_api_call": "iam_malicious_ip_remote_account",
        "getfindings_pascal_rds_login": "rds_malicious_ip_failed_login",
    }
    for pascal_name, camel_name in pairs.items():
        (finding,) = json.loads((GUARDDUTY / "get_findings" / f"{pascal_name}.json").read_text())["Findings"]
        twin = json.loads((GUARDDUTY / f"{camel_name}.json").read_text())
        a, b = sources.normalize(finding), sources.normalize(twin)
        assert (a.entities, a.evidence, a.signals) == (b.entities, b.evidence, b.signals)


def test_wire_models_are_only_frozen_pydantic_models_with_ignored_extras() -> None:
    for model in vars(wire).values():
        if isinstance(model, type) and issubclass(model, wire.Wire):
            assert model.model_config.get("frozen"), model
            assert model.model_config.get("extra") == "ignore", model
