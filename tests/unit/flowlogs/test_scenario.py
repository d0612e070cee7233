"""The scenario generator is shared with the handler and CLI tests: its payloads must be what AWS sends."""

from __future__ import annotations

import json
from pathlib import Path

from riposte.flowlogs import decode
from tests.unit.flowlogs import scenario


def test_subscription_events_decode_to_the_cloudwatch_logs_payload() -> None:
    event = scenario.subscription_event(["a", "b"], log_stream="eni-1-all", timestamp_ms=1_764_403_290_000)
    assert set(event) == {"awslogs"}
    payload = scenario.decode_event(event)
    assert payload["messageType"] == "DATA_MESSAGE"
    assert payload["owner"] == scenario.ACCOUNT
    assert payload["logGroup"] == "/riposte/flowlogs"
    assert payload["logStream"] == "eni-1-all"
    assert payload["subscriptionFilters"] == ["riposte-flowlogs"]
    assert [e["message"] for e in payload["logEvents"]] == ["a", "b"]
    assert all(len(e["id"]) == 56 and e["id"].isdigit() for e in payload["logEvents"])
    assert {e["timestamp"] for e in payload["logEvents"]} == {1_764_403_290_000}


def test_control_messages_carry_no_flow_records() -> None:
    payload = scenario.decode_event(scenario.control_event())
    assert payload["messageType"] == "CONTROL_MESSAGE"
    assert payload["subscriptionFilters"] == []


def test_payload_files_replay_the_scenario_in_name_order(tmp_path: Path) -> None:
    story = scenario.build()
    paths = scenario.write_payloads(story, tmp_path / "payloads")
    assert paths == sorted(paths)
    replayed = [
        tuple(e["message"] for e in scenario.decode_event(json.loads(p.read_text()))["logEvents"]) for p in paths
    ]
    assert replayed == [b.lines for b in story.batches]
    ids = [e["id"] for p in paths for e in scenario.decode_event(json.loads(p.read_text()))["logEvents"]]
    assert len(set(ids)) == len(ids)


def test_scenario_records_are_valid_flow_records() -> None:
    story = scenario.build()
    records = [decode(line, story.fmt) for batch in story.batches for line in batch.lines]
    good = [r for r in records if isinstance(r, dict)]
    assert len(records) - len(good) == story.garbage  # the empty line, "not a flow record", packets "lots"
    attackers = {scenario.SCANNER, scenario.FLOOD, scenario.BRUTE, scenario.SLOW, scenario.PARTNER}
    assert attackers <= {r["srcaddr"] for r in good}
    assert all(r["start"] // 60 * 60 in story.windows for r in good if r["start"] is not None)
