"""Slack incoming-webhook notifier: one Block Kit message with the evidence, the score's reasons, what Riposte did
and deep links into the AWS console.

Trust model. Titles, descriptions, evidence, entity names, targets and details can carry an attacker's text
(a user name, a domain, a webhook's alert). Such text must not format, mention, link or reorder, and must not be
mistaken for Riposte's own words:
- Bold is Riposte's signature: only Riposte's own words ("*Response*", "*done*") are ever bold.
- Untrusted text that stands alone (header, description, evidence, context) goes into ``plain_text`` objects
  (``emoji: false``, so ``:shortcodes:`` stay text): Slack never formats, links or mentions in them.
- Untrusted text inside Riposte's own mrkdwn lines (reasons, targets, details) is made inert: identifiers go in
  code spans (Slack formats nothing inside one; backticks become U+02CB so the span cannot be closed early), prose
  has the formatting characters replaced by look-alikes (``*`` -> U+2217, ``_`` -> U+02CD, ``~`` -> U+223C,
  backtick -> U+02CB, and their fullwidth forms, which Slack also reads as markup). mrkdwn has no escape
  character, and zero-width characters around a marker make Slack apply the formatting rather than prevent it
  (jsx-slack's "exact mode" relies on exactly that), so look-alikes are the dependable choice. Every mrkdwn object
  sets ``verbatim: true`` so Slack does not auto-link URLs, channel names or bare mentions.
- Everywhere, ``&``, ``<`` and ``>`` are escaped (Slack reads them as control characters in every text object),
  which disarms ``<!here>``, ``<@U123>``, ``<!subteam^S1>`` and ``<url|label>``; bare @here/@channel/@everyone get
  a fullwidth at sign. Control, format (bidi overrides, zero-width), surrogate and filler characters are dropped;
  newlines survive only where the layout is multi-line (the description) and collapse to spaces elsewhere, so
  no value can start a line that looks like Riposte's.
- Text is clipped to Slack's limits in UTF-16 units (stricter than code points), never inside an escape or a
  grapheme, at a word boundary where one is near, with an ellipsis; nothing empty is ever emitted (Slack answers
  ``invalid_blocks``).

Block Kit limits: header 150, any text object 3000, 10 fields of 2000, 10 context elements, 50 blocks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from riposte.core.model import SIGNAL_RESOLVED, Outcome, Result, SecurityEvent, Severity, Status
from riposte.core.ports import Digest, DigestItem
from riposte.notifiers import NOTIFIERS
from riposte.notifiers.base import Notifier, Route, SecretSpec
from riposte.notifiers.links import console_links

HEADER_MAX = 150
TEXT_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
CONTEXT_ELEMENTS_MAX = 10
BLOCKS_MAX = 50
# The top-level text is the notification fallback; Slack advises keeping it under 4000 characters.
FALLBACK_MAX = 3000
# Parts of a line, so that one long value cannot crowd out the others.
NAME_MAX = 60
LABEL_MAX = 100
TARGET_MAX = 200
ITEM_MAX = 400
CONTEXT_PART_MAX = 200
# Unicode's stream-safe text format allows 30 combining marks in a row; more is only there to smear the layout.
MARKS_MAX = 30
SCAN_PER_UNIT = 4
ELLIPSIS = "…"

RESOLVED_ICON = ":large_green_circle:"
ICONS = {
    Severity.CRITICAL: ":red_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.LOW: ":large_blue_circle:",
    Severity.INFO: ":white_circle:",
}
VERBS = {
    Status.DONE: "done",
    Status.DRY_RUN: "dry run (not applied)",
    Status.REFUSED: "refused",
    Status.FAILED: "FAILED",
    Status.PLANNED: "planned",
    Status.SKIPPED: "skipped",
}

# Blank-looking letters used to make a name look empty; dropped like the zero-width characters.
FILLERS = frozenset("\u115f\u1160\u3164\uffa0")
MENTION = re.compile(r"(?<!\w)@(?=(?:here|channel|everyone|group))", re.IGNORECASE)
FULLWIDTH_AT = "\uff20"
# Slack's formatting characters, fullwidth forms included, and look-alikes it does not read as markup.
INERT = str.maketrans(
    {
        "*": "\u2217",
        "\uff0a": "\ufe61",
        "_": "\u02cd",
        "\uff3f": "\u02cd",
        "~": "\u223c",
        "\uff5e": "\u223c",
        "`": "\u02cb",
        "\uff40": "\u02cb",
    }
)
BACKTICKS = str.maketrans({"`": "\u02cb", "\uff40": "\u02cb"})
# A registry name such as block_ip: underscores only between letters or digits are never at a word boundary,
# where Slack's _italic_ needs them, so such a name is shown as it is.
PLAIN_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")

# --- untrusted text -------------------------------------------------------------------------------------------


def units(text: str) -> int:
    """Length as Slack's limits may count it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text) + sum(1 for char in text if char > "\uffff")


def escape(text: str) -> str:
    # Slack's control characters in text objects; escaping them neutralizes <!channel>, <@U123> and <url|label>.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clean_line(line: str) -> str:
    kept: list[str] = []
    marks = 0
    for char in line:
        category = unicodedata.category(char)
        # Cc: control characters; Cf: bidi overrides and isolates, zero-width characters, soft hyphens, tags;
        # Cs: lone surrogates (not valid UTF-8, so not valid JSON for Slack).
        if category in ("Cc", "Cf", "Cs") or char in FILLERS:
            if char == "\t":
                kept.append(" ")
            continue
        if category in ("Mn", "Me", "Mc"):
            marks += 1
            if marks > MARKS_MAX:
                continue
        else:
            marks = 0
        kept.append(" " if category == "Zs" else char)
    return " ".join("".join(kept).split())


def clean(text: str, *, multiline: bool = False) -> str:
    """``text`` without control, format, surrogate or filler characters, whitespace runs collapsed. Line breaks
    of every kind (CR, VT, FF, NEL, U+2028/9...) become ``\\n`` when ``multiline`` (blank runs kept to one blank
    line), spaces otherwise."""
    lines = [_clean_line(line) for line in text.splitlines()]
    if not multiline:
        return " ".join(line for line in lines if line)
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip("\n")


def defuse(text: str) -> str:
    """Bare @here/@channel/@everyone/@group get a fullwidth at sign: not a mention anywhere, even in the
    top-level text, whose parsing ``verbatim`` does not control."""
    return MENTION.sub(FULLWIDTH_AT, text)


def _regional(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _extends(char: str) -> bool:
    # Combining and spacing marks (variation selectors included) and emoji skin-tone modifiers belong to the
    # character before them.
    return unicodedata.category(char) in ("Mn", "Me", "Mc") or "\U0001f3fb" <= char <= "\U0001f3ff"


def graphemes(text: str) -> Iterator[str]:
    """User-perceived characters, close enough to UAX #29 for clipping (the Lambda carries no ``regex``
    package): marks and modifiers stay with their base, regional indicators pair into flags. Zero-width joiners
    are gone by now (``clean``), so joined emoji are separate clusters, each safe to cut after."""
    cluster = ""
    open_flag = False
    for char in text:
        if cluster and ((open_flag and _regional(char)) or _extends(char)):
            cluster += char
            open_flag = False
            continue
        if cluster:
            yield cluster
        cluster = char
        open_flag = _regional(char)
    if cluster:
        yield cluster


def head(text: str, limit: int) -> tuple[str, bool]:
    """The part of ``text`` worth cleaning for an output of ``limit`` units, and whether more was left out.
    Four characters per unit of room leave ample margin for what cleaning drops and collapses, and keep the
    work bounded whatever the input's size (a webhook body may be a megabyte). The cut never splits a grapheme.
    """
    bound = SCAN_PER_UNIT * limit
    if len(text) <= bound:
        return text, False
    while bound > 0 and (_extends(text[bound]) or (_regional(text[bound]) and _regional(text[bound - 1]))):
        bound -= 1
    return text[:bound], True


def clip(text: str, limit: int, *, cut: bool = False) -> str:
    """``text`` escaped and cut to ``limit`` UTF-16 units: whole graphemes and whole escapes only, at the last
    space when that keeps at least two thirds of the room (a single huge token, a hash or a blob, is cut hard
    rather than dropped), then an ellipsis. ``cut``: ``text`` already lost its end, so the ellipsis is due."""
    whole = escape(text)
    if not cut and units(whole) <= limit:
        return whole
    room = limit - units(ELLIPSIS)
    kept: list[str] = []
    used = 0
    space_at = space_used = 0
    for cluster in graphemes(text):
        piece = escape(cluster)
        size = units(piece)
        if used + size > room:
            break
        if cluster.isspace():
            space_at, space_used = len(kept), used
        kept.append(piece)
        used += size
    if space_used and space_used * 3 >= room * 2:
        kept = kept[:space_at]
    return "".join(kept).rstrip() + ELLIPSIS


def safe(text: str, limit: int, *, multiline: bool = False) -> str:
    """Untrusted text for a ``plain_text`` object: cleaned, defused, escaped, clipped (may be empty)."""
    text, cut = head(text, limit)
    return clip(defuse(clean(text, multiline=multiline)), limit, cut=cut)


def inert(text: str, limit: int) -> str:
    """Untrusted prose inside Riposte's mrkdwn: one line, formatting characters replaced by look-alikes."""
    text, cut = head(text, limit)
    return clip(defuse(clean(text)).translate(INERT), limit, cut=cut)


def code(text: str, limit: int) -> str:
    """An untrusted identifier inside Riposte's mrkdwn, as a code span (nothing inside one is formatted); the
    characters are kept for copying, except backticks, which would close the span. Empty for empty text."""
    text, cut = head(text, limit)
    body = clip(defuse(clean(text)).translate(BACKTICKS), limit - 2, cut=cut)
    return f"`{body}`" if body else ""


def registry_name(text: str, limit: int) -> str:
    """A registry name (``block_ip``) as it is; anything else as inert prose."""
    return text if PLAIN_NAME.fullmatch(text) and len(text) <= limit else inert(text, limit)


def plain_text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": False}


def mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack keeps Riposte's markup and links but auto-links nothing, and parses no bare mention.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def within(lines: Sequence[str], limit: int, *, separator: str = "\n") -> str:
    """As many whole ``lines`` as fit in ``limit`` (the first always does: callers clip its parts), then
    "… and N more". Lines are never cut, so no markup, code span or escape is left open."""
    if not lines:
        return ""
    text = lines[0]
    for index, line in enumerate(lines[1:], start=1):
        rest = len(lines) - index
        candidate = text + separator + line
        reserve = 0 if rest == 1 else units(f"{separator}{ELLIPSIS} and {rest - 1} more")
        if units(candidate) + reserve > limit:
            return f"{text}{separator}{ELLIPSIS} and {rest} more"
        text = candidate
    return text


# --- the message ----------------------------------------------------------------------------------------------


def _header(prefix: str, title: str) -> dict[str, Any]:
    lead = f"{prefix}: "
    clipped = safe(title, HEADER_MAX - units(lead))
    return {"type": "header", "text": plain_text(lead + clipped if clipped else prefix)}


def _field(label: str, value: str) -> dict[str, Any] | None:
    head = safe(label, LABEL_MAX)
    body = safe(value, FIELD_MAX - units(head) - 1)
    text = "\n".join(part for part in (head, body) if part)
    return plain_text(text) if text else None


def _evidence(evidence: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    fields = [f for f in (_field(label, value) for label, value in evidence) if f]
    if len(fields) > FIELDS_MAX:
        hidden = len(fields) - (FIELDS_MAX - 1)
        fields = [*fields[: FIELDS_MAX - 1], plain_text(f"{ELLIPSIS} and {hidden} more")]
    return fields


def _action_line(outcome: Outcome) -> str:
    parts = [part for part in (code(outcome.name, NAME_MAX), code(outcome.target, TARGET_MAX)) if part]
    line = f"• {' '.join(parts) or '(unnamed)'}: *{VERBS[outcome.status]}*"
    detail = inert(outcome.detail, ITEM_MAX)
    return f"{line} ({detail})" if detail else line


def _links_block(links: Sequence[tuple[str, str]]) -> dict[str, Any] | None:
    if not links:
        return None
    heading = "*AWS console:*"
    items = [f"<{escape(url)}|{escape(label)}>" for label, url in links]
    joined = within(items, TEXT_MAX - units(heading) - 1, separator=" · ")
    return {"type": "section", "text": mrkdwn(f"{heading} {joined}")}


def _context(event: SecurityEvent) -> dict[str, Any] | None:
    account = safe(event.account or "", CONTEXT_PART_MAX)
    parts = [
        safe(event.source, CONTEXT_PART_MAX),
        f"account {account}" if account else "",
        safe(event.region or "", CONTEXT_PART_MAX),
        safe(event.time or "", CONTEXT_PART_MAX),
        safe(event.id, CONTEXT_PART_MAX),
    ]
    text = " · ".join(part for part in parts if part)
    return {"type": "context", "elements": [plain_text(text)]} if text else None


def _fallback(prefix: str, event: SecurityEvent, actions: Sequence[Outcome], icon: str) -> str:
    # Top-level text is mrkdwn that Slack parses without a verbatim switch: everything untrusted is inert here.
    title = inert(event.title, HEADER_MAX)
    text = f"{icon} {prefix}" + (f": {title}" if title else "")
    done = [o for o in actions if o.status in (Status.DONE, Status.DRY_RUN)]
    items = [
        " ".join(p for p in (registry_name(o.name, NAME_MAX), inert(o.target, TARGET_MAX), f"({VERBS[o.status]})") if p)
        for o in done
    ]
    if not items:
        return text
    return text + " — " + within(items, FALLBACK_MAX - units(text) - 3, separator=", ")


def _paging(notifications: Sequence[Outcome]) -> dict[str, Any] | None:
    """What the pager said before this message (the runner pages first): paged, or failed and why; a notifier
    that was skipped (not configured, already paged) is not news."""
    told = [o for o in notifications if o.status is not Status.SKIPPED]
    if not told:
        return None
    lines = ["*Paging*"]
    for outcome in told:
        line = f"• {code(outcome.name, NAME_MAX) or '(unnamed)'}: *{VERBS[outcome.status]}*"
        detail = inert(outcome.detail, ITEM_MAX)
        if outcome.status is Status.FAILED:
            then = "retrying" if outcome.retryable else "not retried"
            detail = detail if detail.endswith(then) else "; ".join(p for p in (detail, then) if p)
        lines.append(f"{line} ({detail})" if detail else line)
    return {"type": "section", "text": mrkdwn(within(lines, TEXT_MAX))}


def _prefix(result: Result) -> tuple[str, str]:
    """The header's lead and the icon: the score, or RESOLVED when the source says it is over."""
    score = result.plan.score
    if SIGNAL_RESOLVED in result.plan.event.signals:
        return "RESOLVED", RESOLVED_ICON
    return f"{score.severity.value.upper()} {score.value}/100", ICONS[score.severity]


def render(result: Result) -> dict[str, Any]:
    plan = result.plan
    event, score = plan.event, plan.score
    prefix, icon = _prefix(result)
    blocks: list[dict[str, Any] | None] = [_header(prefix, event.title)]
    if description := safe(event.description, TEXT_MAX, multiline=True):
        blocks.append({"type": "section", "text": plain_text(description)})
    if fields := _evidence(event.evidence):
        blocks.append({"type": "section", "fields": fields})
    reasons = [f"• {reason}" for reason in (inert(r, ITEM_MAX) for r in score.reasons) if reason]
    blocks.append({"type": "section", "text": mrkdwn(within([f"*Why {score.value}*", *reasons], TEXT_MAX))})
    if result.actions:
        lines = ["*Response*", *(_action_line(o) for o in result.actions)]
        blocks.append({"type": "section", "text": mrkdwn(within(lines, TEXT_MAX))})
    blocks.append(_paging(result.notifications))
    blocks.append(_links_block(console_links(result)))
    blocks.append(_context(event))
    return {
        "text": _fallback(prefix, event, result.actions, icon),
        "blocks": [b for b in blocks if b][:BLOCKS_MAX],
        # Slack would otherwise fetch links found in the message, telling their owner when an alert fired.
        "unfurl_links": False,
        "unfurl_media": False,
    }


# --- the storm digest -----------------------------------------------------------------------------------------

SEVERITY_ORDER = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO)


def _clock(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _counts(digest: Digest) -> str:
    parts = [
        f"{ICONS[severity]} {severity.value} {digest.counts[severity.value]}"
        for severity in SEVERITY_ORDER
        if digest.counts.get(severity.value)
    ]
    return " · ".join(parts)


def _digest_line(item: DigestItem) -> str:
    severity = Severity(item.severity) if item.severity in {s.value for s in Severity} else Severity.INFO
    lead = f"• {ICONS[severity]} *{severity.value.upper()} {item.score}/100*"
    title = inert(item.title, ITEM_MAX)
    response = inert(item.response, ITEM_MAX)
    return " ".join(p for p in (lead, title, f"— {response}" if response else "") if p)


def render_digest(digest: Digest) -> dict[str, Any]:
    """One message for a storm's folded decisions: how many of each severity, the top ones by score, the window.
    Titles are the events' (untrusted) and made inert like everywhere else."""
    minutes = digest.seconds / 60
    span = f"{minutes:g} minute{'s' if minutes != 1 else ''}"
    total = digest.total
    heading = f"Digest: {total} more decision{'s' if total != 1 else ''} in {span}"
    start, end = _clock(digest.window), _clock(digest.window + digest.seconds)
    blocks: list[dict[str, Any] | None] = [
        {"type": "header", "text": plain_text(clip(heading, HEADER_MAX))},
        {"type": "section", "text": mrkdwn(f"*By severity:* {_counts(digest)}")} if digest.counts else None,
    ]
    if digest.top:
        lines = [f"*Top {len(digest.top)} by score*", *(_digest_line(item) for item in digest.top)]
        blocks.append({"type": "section", "text": mrkdwn(within(lines, TEXT_MAX))})
    hidden = total - len(digest.top)
    note = f"{start} to {end} UTC · folded by storm control (notify.storm_max_messages per window)"
    if hidden > 0:
        note += f" · {hidden} not listed: each is in the audit trail"
    blocks.append({"type": "context", "elements": [plain_text(note)]})
    return {
        "text": f":package: Riposte digest: {total} decisions folded between {start} and {end} UTC",
        "blocks": [b for b in blocks if b][:BLOCKS_MAX],
        "unfurl_links": False,
        "unfurl_media": False,
    }


@NOTIFIERS.register
class SlackNotifier(Notifier):
    name: ClassVar[str] = "slack"
    route: ClassVar[Route] = Route.NOTIFY
    secret: ClassVar[SecretSpec] = SecretSpec(
        field="slack_webhook_url",
        default="riposte/slack-webhook-url",
        description="Slack incoming-webhook URL for Riposte (fill in after deploy)",
    )

    folds: ClassVar[bool] = True

    def render(self, result: Result) -> dict[str, Any]:
        return render(result)

    def send_digest(self, digest: Digest) -> Outcome:
        url = self.url()
        if isinstance(url, Outcome):
            return url
        return self.post(url, render_digest(digest))
