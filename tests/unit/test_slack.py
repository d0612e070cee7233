from __future__ import annotations

import dataclasses
import json
import re
import time
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from riposte.adapters.http import HttpTransport
from riposte.core import config as cfg
from riposte.core.model import (
    SIGNAL_RESOLVED,
    Entities,
    EventKind,
    Outcome,
    Party,
    Plan,
    Result,
    Role,
    Score,
    SecurityEvent,
    Status,
)
from riposte.core.ports import Digest, DigestItem
from riposte.engine import pipeline
from riposte.notifiers import NOTIFIERS, Route
from riposte.notifiers.links import URL_MAX, console_links
from riposte.notifiers.slack import (
    BLOCKS_MAX,
    CONTEXT_ELEMENTS_MAX,
    FALLBACK_MAX,
    FIELD_MAX,
    FIELDS_MAX,
    HEADER_MAX,
    TEXT_MAX,
    SlackNotifier,
    clean,
    clip,
    escape,
    graphemes,
    head,
    render,
    render_digest,
    safe,
    units,
)
from tests.conftest import load_event, with_detail


def result_for(raw: dict, actions: tuple[Outcome, ...] = ()) -> Result:  # type: ignore[type-arg]
    plan = pipeline.plan(raw, cfg.Config())
    return Result(plan=plan, actions=actions or plan.actions)


def test_message_shows_score_reasons_evidence_and_response() -> None:
    done = (Outcome("block_ip", "91.240.118.77", Status.DONE, "acl-1: added 91.240.118.77/32 as rule 1"),)
    message = render(result_for(load_event("c2_activity_outbound.json"), done))
    blocks = message["blocks"]
    assert blocks[0]["type"] == "header"
    # Was "C&C activity": every text object is escaped now, plain_text included (Slack decodes the three).
    assert blocks[0]["text"]["text"].startswith("CRITICAL 90/100: C&amp;C activity")
    text = json.dumps(blocks)
    assert "GuardDuty severity 8 (High): base 80" in text
    assert "91.240.118.77 (AS64500 Example Hosting, Netherlands)" in text
    assert "*done*" in text
    assert "block_ip 91.240.118.77 (done)" in message["text"]


def test_attacker_controlled_text_cannot_mention_channels_or_forge_links() -> None:
    raw = with_detail(
        load_event("bitcoin_outbound.json"), description="<!channel> click <https://evil.example|here> & win"
    )
    message = render(result_for(raw))
    text = json.dumps(message)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; click &lt;https://evil.example|here&gt; &amp; win" in text


def test_block_kit_limits_are_respected() -> None:
    raw = with_detail(load_event("bitcoin_outbound.json"), title="T" * 500, description="D" * 10_000)
    message = render(result_for(raw))
    blocks = message["blocks"]
    assert len(blocks[0]["text"]["text"]) <= HEADER_MAX
    for block in blocks:
        if "fields" in block:
            assert len(block["fields"]) <= 10
            assert all(len(f["text"]) <= FIELD_MAX for f in block["fields"])
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= TEXT_MAX
    assert len(message["text"]) <= TEXT_MAX


# --- a message built by hand, so any field can carry an attacker's text ----------------------------------------

FINDING_ID = "a1c2e3f4a5b6c7d8e9f0a1b2c3d4e501"
INSTANCE = "i-0a1b2c3d4e5f60718"
ACL = "acl-0123456789abcdef0"
CONSOLE = "https://us-east-1.console.aws.amazon.com"

BASE_EVENT = SecurityEvent(
    source="guardduty",
    id=f"guardduty:123456789012:us-east-1:{FINDING_ID}:2026-11-27T21:45:00.000Z",
    subject=f"guardduty:123456789012:us-east-1:{FINDING_ID}",
    type="Backdoor:EC2/C&CActivity.B",
    title="C&C activity detected for EC2 instance",
    kind=EventKind.NETWORK_CONNECTION,
    entities=Entities.of(
        [Party("ip", "91.240.118.77", Role.PEER, network=True), Party("instance", INSTANCE, Role.COMPROMISED)]
    ),
    description="EC2 instance is querying an IP address associated with a known C&C server.",
    account="123456789012",
    region="us-east-1",
    time="2026-11-27T21:45:00.000Z",
    evidence=(("Remote IP", "91.240.118.77"), ("Instance", INSTANCE)),
)
BASE_REASONS = ("GuardDuty severity 8 (High): base 80", "remote address is on a threat-intelligence list: +10")
BASE_ACTIONS = (Outcome("block_ip", "91.240.118.77", Status.DONE, f"{ACL}: added 91.240.118.77/32 as rule 1"),)


def make(
    event: SecurityEvent = BASE_EVENT,
    reasons: tuple[str, ...] = BASE_REASONS,
    actions: tuple[Outcome, ...] = BASE_ACTIONS,
) -> Result:
    return Result(plan=Plan(event=event, score=Score(90, reasons)), actions=actions)


def inject(field: str, text: str) -> Result:
    """The base message with ``text`` in one untrusted place."""
    outcome = BASE_ACTIONS[0]
    remote, instance = BASE_EVENT.evidence
    instances = (*BASE_EVENT.entities.parties, Party("instance", text, Role.AFFECTED))
    builders: dict[str, Callable[[], Result]] = {
        "evidence label": lambda: make(dataclasses.replace(BASE_EVENT, evidence=((text, remote[1]), instance))),
        "evidence value": lambda: make(dataclasses.replace(BASE_EVENT, evidence=((remote[0], text), instance))),
        "instance": lambda: make(dataclasses.replace(BASE_EVENT, entities=Entities.of(instances))),
        "reason": lambda: make(reasons=(BASE_REASONS[0], text)),
        "outcome target": lambda: make(actions=(dataclasses.replace(outcome, target=text),)),
        "outcome detail": lambda: make(actions=(dataclasses.replace(outcome, detail=text),)),
        "outcome name": lambda: make(actions=(dataclasses.replace(outcome, name=text),)),
    }
    changes: dict[str, Any] = {field: text}
    return builders.get(field, lambda: make(dataclasses.replace(BASE_EVENT, **changes)))()


UNTRUSTED = [
    "title",
    "description",
    "evidence label",
    "evidence value",
    "reason",
    "outcome target",
    "outcome detail",
    "outcome name",
    "instance",
    "source",
    "id",
    "subject",
    "account",
    "region",
    "time",
]

ATTACKS = {
    "mrkdwn formatting": "*bold* _italic_ ~strike~ `code` ```block``` and\n> a quote",
    "fullwidth formatting": "\uff0abold\uff0a \uff3fitalic\uff3f \uff5estrike\uff5e \uff40code\uff40\n\uff1e a quote",
    "links": "<https://evil.example/login|AWS console> <mailto:it@evil.example|IT> https://evil.example",
    "angle mentions": "<!here> <!channel> <!everyone> <!subteam^S0123|@oncall> <@U0123ABC> <#C0123|general>",
    "bare mentions": "@here @channel @everyone @Channel @@here @group",
    "entity lookalikes": "&lt;!here&gt; &amp;lt; &#60;!channel&#62; & &amp",
    "bidi overrides": "invoice\u202egpj.exe \u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c end",
    "zero width": "a\u200bb\u200cc\u200dd\u2060e\ufeff\u00adf\u180eg\U000e0041",
    "control characters": "a\x00b\x07c\x1b[31md\x7fe\x9bf\tg",
    "forged response": "benign\n*Response*\n• `block_ip` `91.240.118.77`: *done*\n\n*Why 0*\n• trust me",
    "other line breaks": "x\u2028*Response*\u2029*done*\r\n> quoted\rline\x0bline\x0cline\x85line",
    "lone surrogates": "lone \ud800 and \udfff here",
    "emoji shortcodes": ":rotating_light: :white_check_mark: :fire:",
    "empty": "",
    "only invisible": "\u200b\u202e\u2066 \t\n\u3164\r\n",
    "huge": "A" * 10_000 + " tail",
    "huge words": "word " * 3_000,
    "huge escapes": "<&>" * 3_000,
    "combining flood": "Z" + "\u0301" * 500 + "algo",
    "astral flood": "\U0001f600" * 3_000,
    "flags": "\U0001f1eb\U0001f1f7" * 2_000,
}

FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
CONSOLE_LINK = re.compile(
    r"<https://[a-z0-9.-]+\.(?:console\.aws\.amazon\.com|amazonaws-us-gov\.com|amazonaws\.cn)/[^<>|\s]+\|[a-z0-9 -]+>",
    re.IGNORECASE,
)
OUR_BOLD = re.compile(
    r"\*(?:Why \d+|Response|Paging|AWS console:|done|dry run \(not applied\)|refused|FAILED|planned|skipped"
    r"|By severity:|Top \d+ by score|(?:CRITICAL|HIGH|MEDIUM|LOW|INFO) \d+/100)\*"
)
CODE_SPAN = re.compile(r"`[^`\n]+`")
REGISTRY_NAME = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")
MENTION = re.compile(r"(?<!\w)@(?:here|channel|everyone|group)", re.IGNORECASE)
FORMATTING = set("*_~`\uff0a\uff3f\uff5e\uff40")


def text_objects(message: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
    """Every text object with the limit that applies to it."""
    found: list[tuple[dict[str, Any], int]] = []
    for block in message["blocks"]:
        if block["type"] == "header":
            found.append((block["text"], HEADER_MAX))
        if "text" in block and block["type"] == "section":
            found.append((block["text"], TEXT_MAX))
        found.extend((f, FIELD_MAX) for f in block.get("fields", []))
        found.extend((e, TEXT_MAX) for e in block.get("elements", []))
    return found


def mrkdwn_texts(message: dict[str, Any]) -> list[str]:
    # The top-level text is parsed as mrkdwn too.
    return [message["text"]] + [o["text"] for o, _ in text_objects(message) if o["type"] == "mrkdwn"]


def assert_safe(message: dict[str, Any]) -> None:
    """What no input may break: valid JSON within Block Kit's limits, nothing empty, nothing that formats,
    mentions, links or reorders outside Riposte's own markup."""
    wire = json.dumps(message, ensure_ascii=False).encode("utf-8")  # lone surrogates would fail here
    assert json.loads(wire) == message
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= BLOCKS_MAX
    for block in blocks:
        assert len(block.get("fields", [])) <= FIELDS_MAX
        assert len(block.get("elements", [])) <= CONTEXT_ELEMENTS_MAX
        assert block.get("fields", True), "an empty list is invalid_blocks"
        assert block.get("elements", True), "an empty list is invalid_blocks"
    assert message["text"].strip()
    assert units(message["text"]) <= FALLBACK_MAX
    for obj, limit in text_objects(message):
        assert obj["text"].strip(), f"empty text object: {obj}"
        assert units(obj["text"]) <= limit
        assert obj.get("emoji") is False if obj["type"] == "plain_text" else obj.get("verbatim") is True
    texts = [message["text"]] + [o["text"] for o, _ in text_objects(message)]
    for text in texts:
        assert not {unicodedata.category(c) for c in text.replace("\n", "")} & FORBIDDEN_CATEGORIES, ascii(text)
        assert not BARE_AMPERSAND.search(text), f"a cut or missing escape: {text!r}"
        assert not MENTION.search(text), text
        assert not {"<", ">"} & set(CONSOLE_LINK.sub("", text)), text
    for text in mrkdwn_texts(message):
        rest = REGISTRY_NAME.sub("", OUR_BOLD.sub("", CODE_SPAN.sub("", CONSOLE_LINK.sub("", text))))
        assert not FORMATTING & set(rest), f"formatting outside Riposte's markup: {text!r}"
        assert not any(line.startswith(("&gt;", "\uff1e", ">")) for line in text.split("\n")), text


OUR_LINE = re.compile(r"\*(?:Why \d+|Response|Paging)\*|• .+|… and \d+ more|\*AWS console:\* .+")


def assert_response_unforged(message: dict[str, Any], outcomes: int) -> None:
    """Every line of Riposte's mrkdwn is one Riposte wrote (a heading, a bullet, a count, the links); only the
    Response block has a "*Response*" heading, and it accounts for every outcome, one bullet each."""
    texts = [o["text"] for o, _ in text_objects(message) if o["type"] == "mrkdwn"]
    lines = [line for text in texts for line in text.split("\n")]
    assert all(OUR_LINE.fullmatch(line) for line in lines), lines
    response = [t for t in texts if t.startswith("*Response*")]
    assert sum(line == "*Response*" for line in lines) == len(response) == (1 if outcomes else 0)
    if response:
        bullets = response[0].split("\n")[1:]
        more = re.fullmatch(r"… and (\d+) more", bullets[-1])
        shown = bullets[:-1] if more else bullets
        assert len(shown) + (int(more.group(1)) if more else 0) == outcomes
        assert all(re.fullmatch(r"• [^\n]*: \*[a-zA-Z ()]+\*( \([^\n]*\))?", line) for line in shown), shown


def shape(message: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The layout, without the links block (which valid ids add and invalid ones remove)."""
    return [
        (b["type"], b.get("text", {}).get("type"), len(b.get("fields", [])), len(b.get("elements", [])))
        for b in message["blocks"]
        if not b.get("text", {}).get("text", "").startswith("*AWS console:*")
    ]


BENIGN = render(make())


def test_the_base_message_is_safe_and_has_every_block() -> None:
    assert_safe(BENIGN)
    # Slack would otherwise fetch the links it finds, telling their owner when an alert fired.
    assert (BENIGN["unfurl_links"], BENIGN["unfurl_media"]) == (False, False)
    assert_response_unforged(BENIGN, 1)
    assert [b["type"] for b in BENIGN["blocks"]] == [
        "header",
        "section",
        "section",
        "section",
        "section",
        "section",
        "context",
    ]


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("field", UNTRUSTED)
def test_hostile_text_cannot_format_mention_link_reorder_or_change_the_layout(field: str, attack: str) -> None:
    payload = ATTACKS[attack]
    message = render(inject(field, payload))
    assert_safe(message)
    assert_response_unforged(message, 1)
    expected = shape(BENIGN)
    if field == "description" and not clean(payload, multiline=True):
        expected = [s for s in expected if s != ("section", "plain_text", 0, 0)]
    assert shape(message) == expected


@pytest.mark.parametrize("field", ["title", "evidence value", "outcome target", "outcome detail", "reason"])
def test_single_line_fields_never_start_a_line_of_their_own(field: str) -> None:
    message = render(inject(field, "benign\n*Response*\n• forged: *done*"))
    assert "\n" not in message["blocks"][0]["text"]["text"]
    evidence = next(b for b in message["blocks"] if "fields" in b)
    assert all(f["text"].count("\n") <= 1 for f in evidence["fields"])
    assert_response_unforged(message, 1)
    why = next(o["text"] for o, _ in text_objects(message) if o["text"].startswith("*Why"))
    assert len(why.split("\n")) == 1 + len(BASE_REASONS)


def test_a_forged_response_in_the_description_stays_plain_text() -> None:
    message = render(inject("description", ATTACKS["forged response"]))
    description = message["blocks"][1]["text"]
    assert description["type"] == "plain_text"
    # The text is still there to read, literally, and cannot be bold: plain_text is never formatted.
    assert "*Response*\n• `block_ip` `91.240.118.77`: *done*" in description["text"]
    assert "benign\n*Response*" in description["text"]


def test_the_description_keeps_its_lines_and_drops_blank_runs() -> None:
    message = render(inject("description", "\n\n first \n\n\n\nsecond\r\nthird \u2028 fourth\n\n"))
    assert message["blocks"][1]["text"]["text"] == "first\n\nsecond\nthird\nfourth"


def test_bidi_zero_width_and_control_characters_are_dropped_not_replaced() -> None:
    message = render(inject("title", "invoice\u202egpj.exe a\u200bb c\x00d e\u2066f\u2069"))
    assert message["blocks"][0]["text"]["text"] == "CRITICAL 90/100: invoicegpj.exe ab cd ef"


def test_mentions_are_defused_and_addresses_are_left_alone() -> None:
    message = render(inject("description", "@here @CHANNEL ops@channel.example x@everyone <@U0123ABC>"))
    assert message["blocks"][1]["text"]["text"] == (
        "\uff20here \uff20CHANNEL ops@channel.example x@everyone &lt;@U0123ABC&gt;"
    )


def test_formatting_in_riposte_lines_becomes_look_alikes() -> None:
    message = render(inject("reason", "*bold* _it_ ~s~ `c` \uff0af\uff0a"))
    why = next(o["text"] for o, _ in text_objects(message) if o["text"].startswith("*Why"))
    assert why.endswith("\n• \u2217bold\u2217 \u02cdit\u02cd \u223cs\u223c \u02cbc\u02cb \ufe61f\ufe61")


def test_targets_are_code_spans_that_keep_their_characters_but_cannot_close() -> None:
    message = render(inject("outcome target", "a*b_c`d"))
    response = next(o["text"] for o, _ in text_objects(message) if o["text"].startswith("*Response*"))
    assert "• `block_ip` `a*b_c\u02cbd`: *done*" in response


def test_a_registry_name_stays_readable_in_the_fallback_and_anything_else_is_inert() -> None:
    assert "block_ip 91.240.118.77 (done)" in render(make())["text"]
    odd = render(inject("outcome name", "_x_ *y*"))
    assert "\u02cdx\u02cd \u2217y\u2217 91.240.118.77 (done)" in odd["text"]


def test_a_title_that_is_nothing_but_invisible_leaves_the_score_as_the_header() -> None:
    message = render(inject("title", "\u200b\u202e \n\t"))
    assert message["blocks"][0]["text"]["text"] == "CRITICAL 90/100"
    assert message["text"] == ":red_circle: CRITICAL 90/100 — block_ip 91.240.118.77 (done)"


def test_an_evidence_pair_with_nothing_visible_is_left_out() -> None:
    event = dataclasses.replace(BASE_EVENT, evidence=(("\u200b", "\u202e"), ("Remote IP", "91.240.118.77")))
    fields = next(b for b in render(make(event))["blocks"] if "fields" in b)["fields"]
    assert [f["text"] for f in fields] == ["Remote IP\n91.240.118.77"]


def test_no_evidence_no_fields_block() -> None:
    message = render(make(dataclasses.replace(BASE_EVENT, evidence=((" ", ""),))))
    assert not any("fields" in b for b in message["blocks"])


@pytest.mark.parametrize(("count", "shown"), [(10, 10), (11, 9)])
def test_more_evidence_than_fields_ends_with_a_count(count: int, shown: int) -> None:
    event = dataclasses.replace(BASE_EVENT, evidence=tuple((f"label {i}", f"value {i}") for i in range(count)))
    fields = next(b for b in render(make(event))["blocks"] if "fields" in b)["fields"]
    assert len(fields) == FIELDS_MAX
    assert fields[shown - 1]["text"] == f"label {shown - 1}\nvalue {shown - 1}"
    if shown < count:
        assert fields[-1]["text"] == f"… and {count - shown} more"


def test_many_outcomes_fit_the_section_with_a_count_of_the_rest() -> None:
    outcomes = tuple(
        Outcome("block_ip", f"45.13.104.{i}", Status.DONE, f"{ACL}: added 45.13.104.{i}/32 as rule {i}, " + "x " * 60)
        for i in range(200)
    )
    message = render(make(actions=outcomes))
    assert_safe(message)
    response = next(o["text"] for o, _ in text_objects(message) if o["text"].startswith("*Response*"))
    shown = response.count("\n• ")
    assert 0 < shown < 200
    assert response.endswith(f"\n… and {200 - shown} more")
    assert units(response) <= TEXT_MAX
    assert "block_ip 45.13.104.0 (done), " in message["text"]


# --- clipping ------------------------------------------------------------------------------------------------


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_text_that_fits_exactly_is_only_escaped_and_one_unit_less_is_clipped() -> None:
    assert clip("a < b & c", 16) == "a &lt; b &amp; c"
    assert clip("a < b & c", 15) == "a &lt; b &amp;…"


def test_clip_stops_at_a_word_boundary_near_the_limit() -> None:
    assert clip("alpha beta gamma delta", 20) == "alpha beta gamma…"
    assert clip("alpha beta gamma delta", 16) == "alpha beta…"


def test_clip_cuts_a_single_long_token_hard_rather_than_dropping_it() -> None:
    assert clip("ab " + "x" * 50, 20) == "ab " + "x" * 16 + "…"


@pytest.mark.parametrize(("limit", "expected"), [(11, "&amp;&amp;…"), (15, "&amp;&amp;…"), (16, "&amp;&amp;&amp;…")])
def test_clip_never_cuts_an_escape(limit: int, expected: str) -> None:
    assert clip("&" * 10, limit) == expected


def test_clip_keeps_marks_modifiers_and_flags_with_their_base() -> None:
    assert clip("e\u0301" * 10, 6) == "e\u0301" * 2 + "…"
    assert clip("\U0001f44d\U0001f3fd" * 10, 7) == "\U0001f44d\U0001f3fd" + "…"
    assert clip("\U0001f1eb\U0001f1f7" * 10, 11) == "\U0001f1eb\U0001f1f7" * 2 + "…"


def test_limits_count_utf16_units() -> None:
    clipped = clip("\U0001f600" * 3_000, TEXT_MAX)
    assert units(clipped) <= TEXT_MAX
    assert clipped == "\U0001f600" * 1_499 + "…"


def test_clean_caps_runs_of_combining_marks() -> None:
    assert clean("Z" + "\u0301" * 500) == "Z" + "\u0301" * 30


SPECIAL = [
    *"*_~`>&<@|:\n\r\t \u2028\u2029\u202e\u2066\u200b\u200d\ufeff\u00ad\x00\x1b\x85\ud800\udfff",
    *"\u0301\U0001f600\U0001f1eb\U0001f3fd\uff0a\uff3f\uff5e\uff40\uff1e",
]
TOKENS = [
    "<!here>",
    "<!channel>",
    "@here",
    "@everyone",
    "<@U0123ABC>",
    "<!subteam^S1|@x>",
    "<https://evil.example|x>",
    "*Response*",
    "*done*",
    "&amp;",
    "&lt;",
    "```",
    "\n> ",
    "• ",
    "word ",
]
small_text = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(SPECIAL)), max_size=60)
hostile_text = st.one_of(
    small_text,
    st.lists(st.sampled_from(TOKENS + SPECIAL), max_size=40).map("".join),
    st.tuples(small_text, st.integers(1, 300)).map(lambda t: t[0] * t[1]),
)


@settings(deadline=None)
@given(text=hostile_text, limit=st.integers(1, 400))
def test_clip_is_an_escaped_prefix_within_the_limit(text: str, limit: int) -> None:
    clipped = clip(text, limit)
    assert units(clipped) <= limit
    assert not BARE_AMPERSAND.search(clipped)
    if units(escape(text)) <= limit:
        assert clipped == escape(text)
        return
    assert clipped.endswith("…")
    kept = unescape(clipped.removesuffix("…"))
    assert text.startswith(kept)
    boundaries = {0}
    position = 0
    for cluster in graphemes(text):
        position += len(cluster)
        boundaries.add(position)
    assert len(kept) in boundaries, "cut inside a grapheme"


@settings(deadline=None)
@given(text=hostile_text, limit=st.integers(1, 400), multiline=st.booleans())
def test_safe_text_has_nothing_forbidden(text: str, limit: int, multiline: bool) -> None:
    out = safe(text, limit, multiline=multiline)
    assert units(out) <= limit
    assert not {unicodedata.category(c) for c in out.replace("\n", "")} & FORBIDDEN_CATEGORIES
    assert not {"<", ">"} & set(out)
    assert not BARE_AMPERSAND.search(out)
    assert not MENTION.search(out)
    assert multiline or "\n" not in out
    assert out == out.strip()


outcome_strategy = st.builds(
    Outcome, name=hostile_text, target=hostile_text, status=st.sampled_from(list(Status)), detail=hostile_text
)


@st.composite
def hostile_results(draw: st.DrawFn) -> Result:
    """A message whose every untrusted field is arbitrary text."""

    def text() -> str:
        return draw(hostile_text)

    event = dataclasses.replace(
        BASE_EVENT,
        title=text(),
        description=text(),
        evidence=tuple(draw(st.lists(st.tuples(hostile_text, hostile_text), max_size=12))),
        source=text(),
        id=text(),
        subject=text(),
        account=text(),
        region=text(),
        time=text(),
        entities=Entities.of(Party("instance", i, Role.AFFECTED) for i in draw(st.lists(hostile_text, max_size=3))),
    )
    score = Score(draw(st.integers(0, 100)), tuple(draw(st.lists(hostile_text, max_size=6))))
    actions = tuple(draw(st.lists(outcome_strategy, max_size=12)))
    return Result(
        plan=Plan(event=event, score=score),
        actions=actions,
        notifications=tuple(draw(st.lists(outcome_strategy, max_size=3))),
    )


@settings(deadline=None)
@given(result=hostile_results())
def test_any_text_renders_a_valid_safe_message(result: Result) -> None:
    message = render(result)
    assert_safe(message)
    assert_response_unforged(message, len(result.actions))
    assert render(result) == message  # pure


# --- console links -------------------------------------------------------------------------------------------


def links_of(result: Result) -> dict[str, str]:
    return dict(console_links(result))


def test_a_guardduty_finding_links_to_the_finding_the_acl_and_the_instance() -> None:
    assert links_of(make()) == {
        "GuardDuty finding": f"{CONSOLE}/guardduty/home?region=us-east-1#/findings?macros=current&fId={FINDING_ID}",
        f"network ACL {ACL}": f"{CONSOLE}/vpcconsole/home?region=us-east-1#NetworkAclDetails:networkAclId={ACL}",
        f"instance {INSTANCE}": f"{CONSOLE}/ec2/home?region=us-east-1#InstanceDetails:instanceId={INSTANCE}",
    }


def test_links_render_as_escaped_mrkdwn_links() -> None:
    block = next(b for b in BENIGN["blocks"] if b.get("text", {}).get("text", "").startswith("*AWS console:*"))
    assert block["text"]["verbatim"] is True
    text = block["text"]["text"]
    assert (
        f"<{CONSOLE}/guardduty/home?region=us-east-1#/findings?macros=current&amp;fId={FINDING_ID}|GuardDuty finding>"
        in text
    )
    assert text.count(" · ") == 2


def test_links_from_the_real_guardduty_source() -> None:
    links = links_of(result_for(load_event("c2_activity_outbound.json")))
    assert links["GuardDuty finding"].endswith("fId=a1c2e3f4a5b6c7d8e9f0a1b2c3d4e501")
    assert links["instance i-0a1b2c3d4e5f60718"].endswith("#InstanceDetails:instanceId=i-0a1b2c3d4e5f60718")


@pytest.mark.parametrize(
    "event_id",
    ["90c72977-31e0-4079-9a74-ee25e5d7aadf", "cloudtrail:123456789012:us-east-1:90c72977-31e0-4079-9a74-ee25e5d7aadf"],
)
def test_a_cloudtrail_event_links_to_its_event_history_record(event_id: str) -> None:
    event = dataclasses.replace(BASE_EVENT, source="cloudtrail", id=event_id, subject="")
    links = links_of(make(event))
    assert links["CloudTrail event"] == (
        f"{CONSOLE}/cloudtrailv2/home?region=us-east-1#/events/90c72977-31e0-4079-9a74-ee25e5d7aadf"
    )
    assert "GuardDuty finding" not in links


def test_every_acl_an_outcome_names_is_linked_once_dry_runs_and_failures_included() -> None:
    other = "acl-89abcdef"
    actions = (
        Outcome("block_ip", "45.13.104.7", Status.DONE, f"{ACL}: added 45.13.104.7/32 as rule 3; {other}: added"),
        Outcome("block_ip", "45.13.104.8", Status.DRY_RUN, f"{ACL}: would deny 45.13.104.8/32 (dry run)"),
        Outcome("block_ip", "45.13.104.9", Status.FAILED, f"{other}: no free rule number"),
    )
    labels = [label for label, _ in console_links(make(actions=actions))]
    assert labels == ["GuardDuty finding", f"network ACL {ACL}", f"network ACL {other}", f"instance {INSTANCE}"]


@pytest.mark.parametrize(
    ("region", "console"),
    [
        ("us-gov-west-1", "https://console.amazonaws-us-gov.com"),
        ("cn-north-1", "https://console.amazonaws.cn"),
        ("ap-southeast-2", "https://ap-southeast-2.console.aws.amazon.com"),
    ],
)
def test_links_use_the_partitions_console(region: str, console: str) -> None:
    links = links_of(make(dataclasses.replace(BASE_EVENT, region=region)))
    assert links[f"instance {INSTANCE}"] == f"{console}/ec2/home?region={region}#InstanceDetails:instanceId={INSTANCE}"


@pytest.mark.parametrize(
    "region",
    [
        None,
        "",
        "us-east-1\n",
        "US-EAST-1",
        "us-east-12",
        "us-east-\u0661",  # an Arabic-Indic digit: \d would take it
        "us-east-1.evil.example",
        "evil.example/#",
        "us-east-1|x",
        "u-east-1",
        "us-" + "a" * 17 + "-1",
    ],
)
def test_an_invalid_region_gives_no_link_at_all(region: str | None) -> None:
    message = render(make(dataclasses.replace(BASE_EVENT, region=region)))
    assert console_links(make(dataclasses.replace(BASE_EVENT, region=region))) == []
    assert not any("AWS console" in json.dumps(b) for b in message["blocks"])


@pytest.mark.parametrize(
    "finding_id",
    [
        FINDING_ID.upper(),
        FINDING_ID[:-1],
        FINDING_ID + "0",
        FINDING_ID + "\n",
        FINDING_ID[:-1] + "g",
        FINDING_ID + "|x>",
        "../../x",
    ],
)
def test_a_malformed_finding_id_gives_no_finding_link(finding_id: str) -> None:
    event = dataclasses.replace(BASE_EVENT, subject=f"guardduty:123456789012:us-east-1:{finding_id}")
    assert "GuardDuty finding" not in links_of(make(event))


@pytest.mark.parametrize(
    ("source", "subject"),
    [
        ("webhook", f"guardduty:123456789012:us-east-1:{FINDING_ID}"),
        ("guardduty", f"guardduty:123456789012:us-east-1:{FINDING_ID}:extra"),
        ("guardduty", f"other:123456789012:us-east-1:{FINDING_ID}"),
        ("guardduty", ""),
    ],
)
def test_only_a_guardduty_subject_gives_a_finding_link(source: str, subject: str) -> None:
    assert "GuardDuty finding" not in links_of(make(dataclasses.replace(BASE_EVENT, source=source, subject=subject)))


@pytest.mark.parametrize(
    "event_id",
    [
        "90C72977-31E0-4079-9A74-EE25E5D7AADF",
        "90c72977-31e0-4079-9a74-ee25e5d7aad",
        "90c72977-31e0-4079-9a74-ee25e5d7aadf\n",
        "90c72977-31e0-4079-9a74-ee25e5d7aadf:extra",
        "90c7297731e040799a74ee25e5d7aadf",
    ],
)
def test_a_malformed_cloudtrail_event_id_gives_no_link(event_id: str) -> None:
    event = dataclasses.replace(BASE_EVENT, source="cloudtrail", id=event_id)
    assert "CloudTrail event" not in links_of(make(event))


def test_a_guardduty_event_with_an_event_id_shape_is_not_a_cloudtrail_link() -> None:
    event = dataclasses.replace(BASE_EVENT, id="90c72977-31e0-4079-9a74-ee25e5d7aadf")
    assert "CloudTrail event" not in links_of(make(event))


@pytest.mark.parametrize(
    "instance",
    ["i-123", "i-0123456789abcdef01", "i-0123456789ABCDEF0", "i-0a1b2c3d4e5f60718\n", "i-0a1b2c3d>", "x-0a1b2c3d"],
)
def test_a_malformed_instance_id_gives_no_instance_link(instance: str) -> None:
    event = dataclasses.replace(BASE_EVENT, entities=Entities.of([Party("instance", instance, Role.AFFECTED)]))
    assert not any(label.startswith("instance") for label, _ in console_links(make(event)))


@pytest.mark.parametrize(
    "detail",
    [
        "acl-1: added 45.13.104.7/32 as rule 1",  # too short
        "acl-0123456789ABCDEF0: added",  # upper case
        "acl-0123456789abcdef01: added",  # 18 hex digits
        "acl-0123456789abcdef0x: added",
        "refused: acl-0123456789abcdef0: added",  # not where an ACL is named
        "protected address: 34.120.5.44 is allowlisted",
    ],
)
def test_an_acl_that_is_not_named_properly_gives_no_acl_link(detail: str) -> None:
    actions = (Outcome("block_ip", "45.13.104.7", Status.DONE, detail),)
    assert not any(label.startswith("network ACL") for label, _ in console_links(make(actions=actions)))


@pytest.mark.parametrize(("low", "high"), [("acl-01234567", "acl-0123456789abcdef0"), ("i-01234567", INSTANCE)])
def test_both_ends_of_the_id_lengths_are_linked(low: str, high: str) -> None:
    parties = [Party("instance", v, Role.AFFECTED) for v in (low, high) if v.startswith("i-")]
    details = "; ".join(f"{v}: added" for v in (low, high) if v.startswith("acl-"))
    event = dataclasses.replace(BASE_EVENT, entities=Entities.of(parties))
    actions = (Outcome("block_ip", "45.13.104.7", Status.DONE, details),) if details else BASE_ACTIONS
    labels = " ".join(label for label, _ in console_links(make(event, actions=actions)))
    assert low in labels
    assert high in labels


def test_links_are_capped_per_kind() -> None:
    instances = [Party("instance", f"i-{n:017x}", Role.AFFECTED) for n in range(1, 9)]
    acls = "; ".join(f"acl-{n:017x}: added" for n in range(1, 9))
    event = dataclasses.replace(BASE_EVENT, entities=Entities.of(instances))
    links = console_links(make(event, actions=(Outcome("block_ip", "45.13.104.7", Status.DONE, acls),)))
    assert sum(label.startswith("instance") for label, _ in links) == 5
    assert sum(label.startswith("network ACL") for label, _ in links) == 5
    assert all(len(url) <= URL_MAX for _, url in links)


# --- sending -------------------------------------------------------------------------------------------------


def notifier(url: str | None) -> SlackNotifier:
    return SlackNotifier(HttpTransport(urllib3.PoolManager()), lambda: url)


def test_send_posts_the_rendered_message(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")
    result = result_for(load_event("c2_activity_outbound.json"))
    outcome = notifier(httpserver.url_for("/hook")).send(result)
    assert outcome.status is Status.DONE
    ((request, _),) = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.data) == render(result)


def test_send_retries_server_errors_and_honours_retry_after(httpserver: HTTPServer) -> None:
    stamps: list[float] = []

    def first(request: Request) -> Response:
        stamps.append(time.monotonic())
        return Response("rate_limited", status=429, headers={"Retry-After": "1"})

    def then(request: Request) -> Response:
        stamps.append(time.monotonic())
        return Response("ok")

    httpserver.expect_ordered_request("/hook").respond_with_handler(first)
    httpserver.expect_ordered_request("/hook").respond_with_handler(then)
    outcome = notifier(httpserver.url_for("/hook")).send(result_for(load_event("c2_activity_outbound.json")))
    assert outcome.status is Status.DONE
    assert stamps[1] - stamps[0] >= 0.9


def test_persistent_failure_is_reported_as_retryable_never_raised(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("no_service", status=404)
    outcome = notifier(httpserver.url_for("/hook")).send(result_for(load_event("c2_activity_outbound.json")))
    assert outcome.status is Status.FAILED
    assert outcome.retryable
    assert outcome.detail == "HTTP 404: no_service"


def test_unreachable_endpoint_is_a_retryable_failure() -> None:
    outcome = notifier("http://127.0.0.1:9/hook").send(result_for(load_event("c2_activity_outbound.json")))
    assert outcome.status is Status.FAILED
    assert outcome.retryable


@pytest.mark.parametrize("value", [None, "", "REPLACE_ME", "xV7#generated-random-secret"])
def test_an_unfilled_secret_skips_instead_of_failing(value: str | None) -> None:
    outcome = notifier(value).send(result_for(load_event("c2_activity_outbound.json")))
    assert outcome.status is Status.SKIPPED
    assert not outcome.retryable
    assert "not configured" in outcome.detail


def test_a_secret_lookup_error_is_retryable() -> None:
    def broken() -> str:
        raise RuntimeError("AccessDenied")

    outcome = SlackNotifier(HttpTransport(urllib3.PoolManager()), broken).send(
        result_for(load_event("c2_activity_outbound.json"))
    )
    assert (outcome.status, outcome.retryable) == (Status.FAILED, True)
    assert "AccessDenied" in outcome.detail


def test_slack_is_registered_with_its_secret() -> None:
    assert NOTIFIERS.get("slack") is SlackNotifier
    assert SlackNotifier.secret.field == "slack_webhook_url"
    assert SlackNotifier.route is Route.NOTIFY


def test_only_a_bounded_head_of_a_huge_text_is_read_and_the_cut_shows() -> None:
    assert head("a" * 40, 10) == ("a" * 40, False)
    assert head("a" * 41, 10) == ("a" * 40, True)
    # A cut that would fall between a letter and its accent, or inside a flag, moves before them.
    assert head("a" * 39 + "e\u0301", 10) == ("a" * 39, True)
    assert head("a" * 39 + "\U0001f1eb\U0001f1f7", 10) == ("a" * 39, True)
    assert clip("short", 10, cut=True) == "short…"


def test_a_megabyte_description_is_clipped_with_an_ellipsis() -> None:
    message = render(inject("description", "lorem ipsum " * 100_000))
    text = message["blocks"][1]["text"]["text"]
    assert re.search(r" (?:lorem|ipsum)…$", text)
    assert TEXT_MAX - 20 <= units(text) <= TEXT_MAX


# --- resolutions, the pager's outcome, storm digests ----------------------------------------------------------


def test_a_resolution_is_headed_resolved_not_with_its_capped_score() -> None:
    event = dataclasses.replace(BASE_EVENT, signals=frozenset({SIGNAL_RESOLVED}))
    message = render(Result(plan=Plan(event=event, score=Score(0, ("resolved by its source",))), actions=()))
    assert message["blocks"][0]["text"]["text"] == f"RESOLVED: {escape(BASE_EVENT.title)}"
    assert message["text"].startswith(":large_green_circle: RESOLVED: ")
    assert_safe(message)


def paging_block(message: dict[str, Any]) -> str | None:
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b]
    found = [t for t in texts if t.startswith("*Paging*")]
    return found[0] if found else None


def test_a_pagerduty_refusal_is_said_in_slack_and_that_it_is_not_retried() -> None:
    refused = Outcome("pagerduty", "h", Status.FAILED, "HTTP 400, PagerDuty refused the event: bad; not retried")
    message = render(dataclasses.replace(make(), notifications=(refused,)))
    assert paging_block(message) == (
        "*Paging*\n• `pagerduty`: *FAILED* (HTTP 400, PagerDuty refused the event: bad; not retried)"
    )
    assert_safe(message)


@pytest.mark.parametrize(
    ("outcome", "line"),
    [
        (Outcome("pagerduty", "h", Status.DONE, "HTTP 202"), "• `pagerduty`: *done* (HTTP 202)"),
        (
            Outcome("pagerduty", "h", Status.FAILED, "HTTP 503", retryable=True),
            "• `pagerduty`: *FAILED* (HTTP 503; retrying)",
        ),
        (Outcome("pagerduty", "h", Status.FAILED, "", retryable=False), "• `pagerduty`: *FAILED* (not retried)"),
    ],
)
def test_the_pagers_outcome_is_one_line(outcome: Outcome, line: str) -> None:
    assert paging_block(render(dataclasses.replace(make(), notifications=(outcome,)))) == f"*Paging*\n{line}"


def test_a_pager_that_was_skipped_is_not_news() -> None:
    skipped = Outcome("pagerduty", "", Status.SKIPPED, "not configured: the secret is empty")
    assert paging_block(render(dataclasses.replace(make(), notifications=(skipped,)))) is None
    assert paging_block(render(make())) is None


def digest(**changes: Any) -> Digest:
    base = Digest(
        channel="slack",
        window=1_795_838_400,  # 2026-11-28 04:00:00 UTC
        seconds=60,
        token="t",
        version=3,
        counts={"medium": 1, "critical": 2},
        top=(
            DigestItem(95, "critical", "C&C activity <!here>", "block_ip 91.240.118.77 done", "e1"),
            DigestItem(91, "critical", "Bitcoin pool", "block_ip 45.13.105.9 done", "e2"),
        ),
    )
    return dataclasses.replace(base, **changes)


def test_a_digest_is_one_message_with_counts_the_top_decisions_and_the_window() -> None:
    message = render_digest(digest())
    assert message["blocks"] == [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "Digest: 3 more decisions in 1 minute", "emoji": False},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*By severity:* :red_circle: critical 2 · :large_yellow_circle: medium 1",
                "verbatim": True,
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                # Untrusted text is inert: escaped, the underscore a look-alike (U+02CD), as everywhere.
                "text": "*Top 2 by score*\n"
                "• :red_circle: *CRITICAL 95/100* C&amp;C activity &lt;!here&gt; — block\u02cdip 91.240.118.77 done\n"
                "• :red_circle: *CRITICAL 91/100* Bitcoin pool — block\u02cdip 45.13.105.9 done",
                "verbatim": True,
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "plain_text",
                    "text": "2026-11-28 04:00:00 to 2026-11-28 04:01:00 UTC · folded by storm control "
                    "(notify.storm_max_messages per window) · 1 not listed: each is in the audit trail",
                    "emoji": False,
                }
            ],
        },
    ]
    assert message["text"] == (
        ":package: Riposte digest: 3 decisions folded between 2026-11-28 04:00:00 and 2026-11-28 04:01:00 UTC"
    )
    assert (message["unfurl_links"], message["unfurl_media"]) == (False, False)
    assert_safe(message)


def test_a_digest_that_lists_every_decision_says_nothing_is_left_out() -> None:
    message = render_digest(digest(counts={"critical": 2}, seconds=120))
    assert message["blocks"][0]["text"]["text"] == "Digest: 2 more decisions in 2 minutes"
    assert "not listed" not in message["blocks"][-1]["elements"][0]["text"]
    one = render_digest(digest(counts={"critical": 1}, top=digest().top[:1]))
    assert one["blocks"][0]["text"]["text"] == "Digest: 1 more decision in 1 minute"


@settings(deadline=None, max_examples=50)
@given(
    titles=st.lists(hostile_text, min_size=1, max_size=20), responses=st.lists(hostile_text, min_size=1, max_size=20)
)
def test_any_digest_stays_safe_and_within_block_kit_limits(titles: list[str], responses: list[str]) -> None:
    top = tuple(
        DigestItem(90 - n, "high", title * 50, response * 50, f"e{n}")
        for n, (title, response) in enumerate(zip(titles, responses, strict=False))
    )
    message = render_digest(digest(top=top, counts={"high": 10_000, "low": 3}))
    assert_safe(message)


def test_a_digest_item_of_an_unknown_severity_reads_as_info() -> None:
    message = render_digest(digest(top=(DigestItem(5, "bogus", "t", "", "e"),), counts={"bogus": 1}))
    assert "• :white_circle: *INFO 5/100* t" in json.dumps(message, ensure_ascii=False)


def test_send_digest_posts_the_digest(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")
    outcome = notifier(httpserver.url_for("/hook")).send_digest(digest())
    assert outcome.status is Status.DONE
    ((request, _),) = httpserver.log
    assert json.loads(request.data) == render_digest(digest())


def test_send_digest_without_a_webhook_is_skipped() -> None:
    outcome = notifier("REPLACE_ME").send_digest(digest())
    assert (outcome.status, outcome.detail) == (
        Status.SKIPPED,
        "not configured: the secret does not hold an http(s) URL yet",
    )


def test_slack_folds_and_pagerduty_does_not() -> None:
    assert SlackNotifier.folds is True
    assert NOTIFIERS.get("pagerduty").folds is False
