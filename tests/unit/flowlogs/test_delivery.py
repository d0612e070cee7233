"""The flow-log Lambda's own payload decoder reads every payload as the shared envelope does: the same messages,
the same errors, every log event it leaves out counted (as malformed, by it or by ``analyze``), and the same
name for a payload (a retry after a deploy must still be recognized)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from demo.local import LambdaContext
from riposte.core import config as cfg
from riposte.flowlogs import MemoryFlowState, Networks, analyze
from riposte.handlers import environment
from riposte.handlers import flowlogs as handler_module
from riposte.sources import InputError, envelopes
from tests.unit.flowlogs import scenario

LINE = "2 123456789012 eni-1 81.2.69.160 10.0.1.10 40000 443 6 3 300 1764403200 1764403260 ACCEPT OK"
OTHER = LINE.replace("81.2.69.160", "45.13.105.20")


def gzipped(payload: object) -> bytes:
    return gzip.compress(json.dumps(payload).encode())


def data(payload: object) -> str:
    return base64.b64encode(gzipped(payload)).decode()


def with_events(*events: object, **fields: Any) -> dict[str, Any]:
    payload = scenario.subscription_payload([])
    payload.update(fields)
    payload["logEvents"] = list(events)
    return payload


def event(message: object, timestamp: object = 1_764_403_290_000) -> dict[str, object]:
    return {"id": "1", "timestamp": timestamp, "message": message}


def envelope_name(logs: envelopes.LogsData) -> str:
    """The name payloads had when the handler read them through the envelope (a retry across a deploy)."""
    first = (logs.messages[0], logs.timestamps[0]) if logs.messages else ("", 0)
    last = (logs.messages[-1], logs.timestamps[-1]) if logs.messages else ("", 0)
    text = "\n".join(map(str, (logs.log_group, logs.log_stream, len(logs.messages), *first, *last)))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=9).hexdigest()


READABLE = {
    "a flow-log payload": scenario.subscription_payload(scenario.traffic(300)),
    "no events": with_events(),
    "no logEvents at all": {"messageType": "DATA_MESSAGE", "owner": "1"},
    "a control message": scenario.decode_event(scenario.control_event()),
    "odd types around the events": with_events(event(LINE), owner=123456789012, logStream=None, messageType=7),
    "a timestamp that is not a number": with_events(event(LINE, "soon"), event(OTHER, None)),
}


@pytest.mark.parametrize("payload", READABLE.values(), ids=READABLE.keys())
@pytest.mark.parametrize("form", ["base64", "gzip bytes"])
def test_payloads_read_as_the_envelope_reads_them(payload: dict[str, Any], form: str) -> None:
    raw: str | bytes = data(payload) if form == "base64" else gzipped(payload)
    logs = envelopes.cloudwatch_logs(raw)
    got = handler_module.delivery(raw)
    assert got.messages == list(logs.messages)
    assert (got.message_type, got.owner, got.log_group, got.log_stream) == (
        logs.message_type,
        logs.owner,
        logs.log_group,
        logs.log_stream,
    )
    assert got.malformed == logs.malformed == 0
    assert handler_module.part_of(got) == envelope_name(logs)


ODD = {
    # json.loads reads these and pydantic-core does not: the envelope reads them.
    "a byte-order mark": b"\xef\xbb\xbf" + json.dumps(with_events(event(LINE))).encode(),
    "a lone surrogate escape": json.dumps(with_events(event(LINE), event("\ud800 x"))).encode(),
    "UTF-16": json.dumps(with_events(event(LINE))).encode("utf-16"),
}


@pytest.mark.parametrize("text", ODD.values(), ids=ODD.keys())
def test_json_only_json_loads_reads_goes_through_the_envelope(text: bytes) -> None:
    raw = gzip.compress(text)
    logs = envelopes.cloudwatch_logs(raw)
    got = handler_module.delivery(raw)
    assert got.messages == list(logs.messages)
    assert LINE in got.messages
    assert handler_module.part_of(got) == envelope_name(logs)


def test_two_gzip_members_are_read_whole() -> None:
    text = json.dumps(with_events(event(LINE), event(OTHER))).encode()
    raw = gzip.compress(text[:40]) + gzip.compress(text[40:])
    assert handler_module.delivery(raw).messages == list(envelopes.cloudwatch_logs(raw).messages) == [LINE, OTHER]


EVENTS = {
    "not an object": [event(LINE), "a string", [1], None, event(OTHER)],
    "without a message": [event(LINE), {"id": "2", "timestamp": 1}, event(OTHER)],
    "a message that is not a string": [event(LINE), event(None), event(7), event(["x"]), event({}), event(OTHER)],
    "only bad ones": [event(None), event(3.5), "x"],
    "bad first and last": [event(None), event(LINE), event(OTHER), event(False)],
}


@pytest.mark.parametrize("events", EVENTS.values(), ids=EVENTS.keys())
def test_every_event_left_out_is_counted_malformed(events: list[object]) -> None:
    raw = data(with_events(*events))
    logs = envelopes.cloudwatch_logs(raw)
    got = handler_module.delivery(raw)
    result = analyze([got.messages], MemoryFlowState(), networks=Networks())
    assert result.counters.malformed + got.malformed == logs.malformed > 0
    assert result.counters.lines + got.malformed == len(events)
    assert result.counters.tallied == len(logs.messages) == sum(m in (LINE, OTHER) for m in logs.messages)
    strings = [m for m in got.messages if isinstance(m, str)]
    assert strings == list(logs.messages)


def test_a_type_error_that_is_no_line_s_fault_is_not_counted_but_raised() -> None:
    class Broken(Networks):
        def classify(self, address: str) -> int:
            raise TypeError("a bug")

    with pytest.raises(TypeError, match="a bug"):
        analyze([[LINE, None]], MemoryFlowState(), networks=Broken())
    with pytest.raises(TypeError, match="a bug"):
        analyze([[LINE]], MemoryFlowState(), networks=Broken())


BAD = {
    "not base64": ("!!!", "not base64"),
    "not gzip": (base64.b64encode(b"plain").decode(), "not gzip"),
    "truncated gzip": (base64.b64encode(gzipped(with_events(event(LINE)))[:-9]).decode(), "not gzip"),
    "not JSON": (base64.b64encode(gzip.compress(b"{")).decode(), "not valid JSON"),
    "not an object": (data([1]), "must be a JSON object"),
    "logEvents not a list": (data({"logEvents": {"message": LINE}}), "'logEvents' is not a list"),
}


@pytest.mark.parametrize(("raw", "problem"), BAD.values(), ids=BAD.keys())
def test_what_is_not_a_payload_fails_as_in_the_envelope(raw: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem) as expected:
        envelopes.cloudwatch_logs(raw)
    with pytest.raises(InputError) as got:
        handler_module.delivery(raw)
    assert str(got.value) == str(expected.value)


@pytest.fixture
def memory_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (cfg.ENV_VAR, environment.TABLE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(environment.STATE, "memory")
    monkeypatch.setattr(handler_module, "clock", lambda: 1764403290.0)
    monkeypatch.setitem(os.environ, "POWERTOOLS_METRICS_NAMESPACE", "Riposte")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # the suite turns them off; these tests read them
    handler_module.runtime.cache_clear()
    handler_module.metrics.clear_metrics()  # with metrics off, earlier tests' metrics stay in the buffer
    yield
    handler_module.runtime.cache_clear()


def metrics_of(output: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            emf = json.loads(line)
            for names in emf["_aws"]["CloudWatchMetrics"]:
                for metric in names["Metrics"]:
                    value = emf[metric["Name"]]
                    found[metric["Name"]] = found.get(metric["Name"], 0) + (
                        sum(value) if isinstance(value, list) else value
                    )
    return found


@pytest.mark.usefixtures("memory_handler")
def test_the_handler_reports_events_left_out_as_malformed_records(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    invoke = handler_module.handler
    context = LambdaContext(function_name="riposte-flowlogs")
    invoke({"awslogs": {"data": data(with_events(event(LINE), event(None), event(7)))}}, context)  # type: ignore[arg-type]
    fast = metrics_of(capsys.readouterr().out)
    invoke({"awslogs": {"data": data(with_events(event(LINE), "x", event(None)))}}, context)  # type: ignore[arg-type]
    envelope = metrics_of(capsys.readouterr().out)
    assert fast["FlowRecordsMalformed"] == envelope["FlowRecordsMalformed"] == 2
    assert fast["FlowRecordsTallied"] == envelope["FlowRecordsTallied"] == 1


def test_output_capture_helper_reads_emf() -> None:
    emf = {"_aws": {"CloudWatchMetrics": [{"Metrics": [{"Name": "A"}, {"Name": "B"}]}]}, "A": 2, "B": [1, 1]}
    line = json.dumps(emf)
    assert metrics_of(io.StringIO(f"noise\n{line}\n").getvalue()) == {"A": 2, "B": 2}
