"""Deep links into the AWS console for what an event and its outcomes name (the finding, the CloudTrail event,
the network ACLs changed, the instances), shared by every notifier: Slack shows them, PagerDuty sends them as
the event's ``links``.

Links are built only from ids that match strict patterns in full, so no event can steer a link elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from riposte.core.model import Outcome, Result, SecurityEvent

# Longest URL kept (Slack's text objects hold 3000 characters; no console URL built here comes close).
URL_MAX = 3000
# Console links of one kind (ACLs, instances) in one message.
LINKS_PER_KIND = 5

# Console links are built only from ids that match these in full (ASCII only: no \d, which takes any digit).
REGION = re.compile(r"[a-z]{2}(?:-gov)?-[a-z]{1,16}-[0-9]")
GUARDDUTY_FINDING_ID = re.compile(r"[0-9a-f]{32}")
CLOUDTRAIL_EVENT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}")
ACL_ID = re.compile(r"acl-[0-9a-f]{8,17}")
# An action's detail names each ACL first: "acl-0abc...: added ...; acl-0def...: ..." (block_ip).
ACL_IN_DETAIL = re.compile(r"(?:^|; )(acl-[0-9a-f]+):")


def _console(region: str) -> str:
    # GovCloud and China have consoles of their own; the commercial console is served per region.
    if region.startswith("us-gov-"):
        return "https://console.amazonaws-us-gov.com"
    if region.startswith("cn-"):
        return "https://console.amazonaws.cn"
    return f"https://{region}.console.aws.amazon.com"


def _guardduty_finding_id(event: SecurityEvent) -> str | None:
    # The GuardDuty source's subject: "guardduty:<account>:<region>:<finding id>".
    parts = event.subject.split(":")
    if event.source == "guardduty" and len(parts) == 4 and parts[0] == "guardduty":
        return parts[3] if GUARDDUTY_FINDING_ID.fullmatch(parts[3]) else None
    return None


def _cloudtrail_event_id(event: SecurityEvent) -> str | None:
    # A CloudTrail event's id is its eventID, alone or last after ':' ("cloudtrail:<account>:<region>:<eventID>").
    candidate = event.id.rsplit(":", 1)[-1]
    return candidate if event.source == "cloudtrail" and CLOUDTRAIL_EVENT_ID.fullmatch(candidate) else None


def _acl_ids(outcomes: Iterable[Outcome]) -> list[str]:
    found = (m.group(1) for o in outcomes for m in ACL_IN_DETAIL.finditer(o.detail))
    return list(dict.fromkeys(acl for acl in found if ACL_ID.fullmatch(acl)))


def console_links(result: Result) -> list[tuple[str, str]]:
    """(label, URL) pairs into the AWS console for what the event and the outcomes name, built only from ids that
    match strict patterns, so no event can steer a link elsewhere. None without a valid region."""
    event = result.plan.event
    region = event.region or ""
    if not REGION.fullmatch(region):
        return []
    base = _console(region)
    links: list[tuple[str, str]] = []
    if finding := _guardduty_finding_id(event):
        links.append(
            ("GuardDuty finding", f"{base}/guardduty/home?region={region}#/findings?macros=current&fId={finding}")
        )
    if trail_event := _cloudtrail_event_id(event):
        links.append(("CloudTrail event", f"{base}/cloudtrailv2/home?region={region}#/events/{trail_event}"))
    for acl in _acl_ids(result.actions)[:LINKS_PER_KIND]:
        links.append(
            (f"network ACL {acl}", f"{base}/vpcconsole/home?region={region}#NetworkAclDetails:networkAclId={acl}")
        )
    instances = [i for i in event.entities.instances if INSTANCE_ID.fullmatch(i)]
    for instance in instances[:LINKS_PER_KIND]:
        links.append((f"instance {instance}", f"{base}/ec2/home?region={region}#InstanceDetails:instanceId={instance}"))
    return [(label, url) for label, url in links if len(url) <= URL_MAX]
