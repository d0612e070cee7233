"""docs/detections.md, generated from the detection catalogue (a test fails when the file is stale).

python -m riposte.sources.cloudtrail.catalogue_doc            # rewrite docs/detections.md
python -m riposte.sources.cloudtrail.catalogue_doc --check    # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from riposte.sources.cloudtrail import patterns
from riposte.sources.cloudtrail.detections.base import (
    ANY_SOURCE,
    CRITICAL,
    DETECTIONS,
    HIGH,
    LOW,
    MEDIUM,
    NATIVE,
    OCCURRENCE,
    PAGED_HIGH,
    Detection,
    Listen,
    Outcome,
)
from riposte.sources.cloudtrail.source import CloudTrailSource

DEFAULT_PATH = Path("docs/detections.md")
COMMAND = "python -m riposte.sources.cloudtrail.catalogue_doc"
AREAS = {
    "log_tampering": "Log tampering",
    "security_services": "Security services",
    "root": "Root user",
    "signin": "Console sign-in",
    "persistence": "Identity: escalation and persistence",
    "exposure": "Data exposure",
    "network": "Network exposure",
    "impact": "Impact: keys, encryption, recoverability",
    "credentials": "Credential access",
}
OUTCOMES = {
    Outcome.SUCCESS: "successful calls",
    Outcome.DENIED: "refused calls",
    Outcome.ATTEMPT: "refused or failed calls",
    Outcome.ANY: "any outcome",
}
_MITRE = re.compile(r"^MITRE ATT&CK (T\d{4})(?:\.(\d{3}))?$")
_STRATUS = re.compile(r"^Stratus Red Team (aws\.[a-z-]+\.[a-z0-9-]+)$")


def _reference(text: str) -> str:
    """A reference, linked where the catalogue has a stable page for it."""
    if match := _MITRE.match(text):
        technique, sub = match.groups()
        url = f"https://attack.mitre.org/techniques/{technique}/" + (f"{sub}/" if sub else "")
        return f"[{text}]({url})"
    if match := _STRATUS.match(text):
        return f"[{text}](https://stratus-red-team.cloud/attack-techniques/AWS/{match.group(1)}/)"
    return text


def _listen(listen: Listen) -> str:
    if listen.event_source == ANY_SOURCE:
        return "any API call whose record matches `" + _compact(listen.content) + "`"
    names = [*listen.names, *(f"{p}*" for p in listen.prefixes)]
    read_only = " (read-only events)" if listen.read_only else ""
    return f"{listen.event_source}: {', '.join(names)}{read_only}"


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _window(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


def _section(d: type[Detection]) -> list[str]:
    lines = [f'<a id="{d.name}"></a>', "", f"### `{d.name}`: {d.title}", ""]
    lines.append(f"**Severity** {d.severity} · **Default response** {d.response} · **Fires on** {OUTCOMES[d.outcome]}")
    lines.append("")
    lines.append(f"**Listens to** {'; '.join(_listen(listen) for listen in d.listens)}")
    lines.append("")
    if d.burst is not None:
        lines.append(
            f"**Burst:** {d.burst.threshold} {d.burst.counted} per {d.burst.per} within "
            f"{_window(d.burst.window_seconds)}, "
            "counted in the state store; one occurrence alone is low."
        )
        lines.append("")
    lines += [d.rationale, ""]
    lines.append("**References:** " + "; ".join(_reference(r) for r in d.references))
    lines.append("")
    lines.append("**Playbook:**")
    lines += [f"{n}. {step}" for n, step in enumerate(d.playbook, 1)]
    lines.append("")
    lines.append(f"**Suggested remediation:** {d.remediation}")
    lines.append("")
    lines.append(f"**Expected benign triggers:** {d.benign}")
    lines.append("")
    return lines


def render() -> str:
    detections = [d for _, d in DETECTIONS]
    by_area = {area: [d for d in detections if d.area == area] for area in AREAS}
    assert sum(map(len, by_area.values())) == len(detections), "every area has a title in AREAS"
    lines = [
        "# CloudTrail detections",
        "",
        f"<!-- Generated from lambdas/riposte/sources/cloudtrail/detections/ by `{COMMAND}`; do not edit. -->",
        "",
        f"{len(detections)} detections in {len(AREAS)} areas, each a small pure function of one CloudTrail record "
        "with its positive and negative cases in `tests/events/cloudtrail/<id>.cases`.",
        "",
        "- **Severity** is the base severity; a detection may raise or lower it for one record (its text says "
        f"when). On GuardDuty's 0-10 scale: low {NATIVE[LOW]:g}, medium {NATIVE[MEDIUM]:g}, high "
        f"{NATIVE[HIGH]:g} ({PAGED_HIGH:g} when its response is page), critical {NATIVE[CRITICAL]:g}; "
        f"one occurrence of a burst {OCCURRENCE:g}. Refused calls are attempts and score lower.",
        "- **Default response** is who hears about it at the base severity under the default thresholds: "
        "*record* (the audit trail), *notify* (Slack), *page* (Slack and PagerDuty). The remediation is suggested "
        "to a human; Riposte never blocks an address for an API call (API callers do not cross network ACLs).",
        "- Never evaluated: calls an AWS service makes on a principal's behalf (`invokedBy`), AWS service events, "
        "service-linked roles. Riposte's own role is ignored by the engine.",
        f"- Deployed as {len(CloudTrailSource.event_patterns)} EventBridge rules generated from what the detections "
        f"listen to ({sum(patterns.read_only(p) for p in CloudTrailSource.event_patterns)} of them for read-only "
        "events, which need the rule state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS).",
        "",
        "| id | title | severity | response | references |",
        "| --- | --- | --- | --- | --- |",
    ]
    for members in by_area.values():
        for d in members:
            refs = ", ".join(dict.fromkeys(_short(r) for r in d.references))
            lines.append(f"| [`{d.name}`](#{d.name}) | {d.title} | {d.severity} | {d.response} | {refs} |")
    lines.append("")
    for area, members in by_area.items():
        lines += [f"## {AREAS[area]}", ""]
        for d in members:
            lines += _section(d)
    return "\n".join(lines).rstrip() + "\n"


def _short(reference: str) -> str:
    """The short form for the summary table: CIS control numbers, ATT&CK ids, and the catalogue's name."""
    if match := _MITRE.match(reference):
        return ".".join(g for g in match.groups() if g)
    if reference.startswith("CIS"):
        controls = re.findall(r"v1\.4 ([\d.]+(?:-[\d.]+)?(?: & [\d.]+)*)", reference)
        return "CIS " + ", ".join(c.replace(" & ", ", ") for c in controls) if controls else "CIS"
    return reference.split(":", 1)[0].split(" aws.", 1)[0].split(" guardduty", 1)[0].split(" iam", 1)[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the CloudTrail detection reference.")
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs from the catalogue")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
        if current != text:
            print(f"{args.path} is stale: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
