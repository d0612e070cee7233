"""Network exposure: security groups and network ACLs opened to the internet on administration or database ports,
internet gateways on VPCs meant to stay isolated, and peering with unknown accounts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from riposte.core.guard import world_wide
from riposte.core.model import Severity
from riposte.sources.cloudtrail.detections.base import (
    CRITICAL,
    EC2,
    HIGH,
    LOW,
    MEDIUM,
    RANK,
    Context,
    Hit,
    Response,
    affected,
    calls,
    detection,
    facts,
    foreign,
)
from riposte.sources.cloudtrail.record import Record, as_list, dig, flag, items, text

# Remote administration, file sharing, databases, caches, search and container daemons: never for the internet.
SENSITIVE_PORTS = (22, 23, 445, 1433, 1521, 2375, 2376, 3306, 3389, 5432, 5601, 5900, 6379, 9200, 9300, 11211, 27017)
_ALL_PROTOCOLS = ("-1", "all")
_TCP_UDP = ("tcp", "udp", "6", "17")
_ICMP = ("icmp", "icmpv6", "1", "58")


def _port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _protocol(value: Any) -> str:
    return str(value).lower() if value is not None else ""


def _exposure(protocol: str, low: int | None, high: int | None) -> Severity | None:
    """How bad it is to open ``protocol`` ports ``low``-``high`` to the world: everything (critical), a sensitive
    port (high), or nothing this detection cares about."""
    if protocol in _ALL_PROTOCOLS:
        return CRITICAL
    if protocol in _ICMP:
        return None
    if (low in (None, 0, -1)) and (high in (None, 65535, -1)):
        return CRITICAL
    sensitive = low is not None and high is not None and any(low <= p <= high for p in SENSITIVE_PORTS)
    return HIGH if protocol in _TCP_UDP and sensitive else None


def _ingress_rules(r: Record) -> Iterator[tuple[str, int | None, int | None, str]]:
    """(protocol, from port, to port, cidr) for every rule the call added. The response's
    securityGroupRuleSet normalises both request shapes; without it, read the request."""
    answered = items(r.response, "securityGroupRuleSet")
    if answered:
        for rule in answered:
            if isinstance(rule, Mapping) and not flag(rule.get("isEgress")):
                cidr = text(rule.get("cidrIpv4")) or text(rule.get("cidrIpv6"))
                yield _protocol(rule.get("ipProtocol")), _port(rule.get("fromPort")), _port(rule.get("toPort")), cidr
        return
    for permission in items(r.params, "ipPermissions"):
        if not isinstance(permission, Mapping):
            continue
        cidrs = [text(dig(x, "cidrIp")) for x in items(permission, "ipRanges")]
        cidrs += [text(dig(x, "cidrIpv6")) for x in items(permission, "ipv6Ranges")]
        low, high = _port(permission.get("fromPort")), _port(permission.get("toPort"))
        for cidr in cidrs:
            yield _protocol(permission.get("ipProtocol")), low, high, cidr
    if r.param("cidrIp"):  # the legacy flat request shape
        yield (
            text(str(r.param("ipProtocol"))),
            _port(r.param("fromPort")),
            _port(r.param("toPort")),
            text(r.param("cidrIp")),
        )


@detection(
    id="sg_ingress_open_to_world",
    title="Security group opened to the internet on a sensitive port",
    severity=HIGH,
    listens=(calls(EC2, "AuthorizeSecurityGroupIngress"),),
    rationale=(
        "Administration and database ports open to 0.0.0.0/0 or ::/0 (or to prefixes of /8 or shorter that reach "
        "the internet, such as 0.0.0.0/1 + 128.0.0.0/1) are found by internet-wide scanners within minutes; all "
        "traffic or all ports open is critical. Web ports (80, 443) do not fire."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.10 / v1.4 4.10 (Security Hub CloudWatch.10); CIS 5.2/5.3",
        "MITRE ATT&CK T1562.007",
        "Stratus Red Team aws.exfiltration.ec2-security-group-open-port-22-ingress",
        "Sigma: AWS Security Group Change Ingress/Egress",
    ),
    playbook=(
        "Revoke the rule (its securityGroupRuleId is in the response)",
        "Check the instances behind the group for connections since (flow logs, GuardDuty)",
        "Contain the actor if the change was not planned",
    ),
    remediation="ec2:RevokeSecurityGroupIngress(GroupId, SecurityGroupRuleIds=<the ids in the response>)",
    benign="Web ports open to the world, and any port open to private ranges, never fire.",
)
def sg_ingress_open_to_world(r: Record, ctx: Context) -> Hit | None:
    worst: Severity | None = None
    opened: list[str] = []
    for protocol, low, high, cidr in _ingress_rules(r):
        if not world_wide(cidr) or (severity := _exposure(protocol, low, high)) is None:
            continue
        opened.append(f"{protocol} {low}-{high} from {cidr}" if low not in (None, -1) else f"{protocol} from {cidr}")
        worst = severity if worst is None or RANK[severity] > RANK[worst] else worst
    if worst is None:
        return None
    group = text(r.param("groupId")) or text(r.param("groupName"))
    rules = [text(dig(x, "securityGroupRuleId")) for x in items(r.response, "securityGroupRuleSet")]
    # The rules that opened it (by id when the response names them, else by what they allow): what a heal revokes.
    references = [f"{group}/{rule}" for rule in rules if rule] or [
        f"{group}/{protocol}/{'all' if low in (None, -1) else f'{low}-{high}'}/{cidr}"
        for protocol, low, high, cidr in _ingress_rules(r)
        if world_wide(cidr) and _exposure(protocol, low, high) is not None
    ]
    return Hit(
        f"security group {group} opened: {'; '.join(opened)}",
        severity=worst,
        facts=facts(("Security group", group), ("Rules", [x for x in rules if x])),
        parties=tuple(p for ref in references for p in affected("security_group_rule", ref)) if group else (),
    )


def _modified_rules(r: Record) -> Iterator[tuple[str, str, int | None, int | None, str]]:
    """(rule id, protocol, from port, to port, cidr) for every rule ModifySecurityGroupRules rewrote; the request
    arrives wrapped (``ModifySecurityGroupRulesRequest``) with one rule or a list, keys capitalised."""
    request = r.param("ModifySecurityGroupRulesRequest")
    request = request if isinstance(request, Mapping) else r.params
    for entry in as_list(dig(request, "SecurityGroupRule")):
        rule = entry.get("SecurityGroupRule") if isinstance(entry, Mapping) else None
        if not isinstance(rule, Mapping):
            continue
        cidr = text(rule.get("CidrIpv4")) or text(rule.get("CidrIpv6"))
        yield (
            text(entry.get("SecurityGroupRuleId")),
            _protocol(rule.get("IpProtocol")),
            _port(rule.get("FromPort")),
            _port(rule.get("ToPort")),
            cidr,
        )


@detection(
    id="sg_rule_modified_open_to_world",
    title="Security group rule rewritten to let the internet in on a sensitive port",
    severity=HIGH,
    listens=(calls(EC2, "ModifySecurityGroupRules"),),
    rationale=(
        "ModifySecurityGroupRules rewrites an existing rule in place: turning a narrow rule into an administration "
        "or database port open to the internet never shows up as an AuthorizeSecurityGroupIngress. The request "
        "does not say whether the rule is inbound or outbound, so all traffic to the world (the shape of the "
        "default outbound rule) is medium."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.10 / v1.4 4.10 (Security Hub CloudWatch.10); CIS 5.2/5.3",
        "MITRE ATT&CK T1562.007",
        "Sigma: AWS Security Group Change Ingress/Egress",
    ),
    playbook=(
        "Read the rule (ec2:DescribeSecurityGroupRules): inbound or outbound, and what it allowed before",
        "Narrow or revoke it if it is inbound and not planned",
        "Check the instances behind the group for connections since (flow logs, GuardDuty)",
    ),
    remediation="ec2:ModifySecurityGroupRules back to the previous CIDR, or ec2:RevokeSecurityGroupIngress(<rule id>)",
    benign="Web ports, private ranges, and edits of the default all-traffic outbound rule (medium) are expected.",
)
def sg_rule_modified_open_to_world(r: Record, ctx: Context) -> Hit | None:
    worst: Severity | None = None
    opened: list[str] = []
    rules: list[str] = []
    for rule_id, protocol, low, high, cidr in _modified_rules(r):
        if not world_wide(cidr) or (severity := _exposure(protocol, low, high)) is None:
            continue
        # All traffic (or all ports) to the world is what the default outbound rule looks like.
        severity = MEDIUM if severity is CRITICAL else severity
        opened.append(
            f"{rule_id or '?'}: {protocol} {low}-{high} {cidr}"
            if low not in (None, -1)
            else f"{rule_id or '?'}: {protocol} {cidr}"
        )
        rules.append(rule_id)
        worst = severity if worst is None or RANK[severity] > RANK[worst] else worst
    if worst is None:
        return None
    request = r.param("ModifySecurityGroupRulesRequest")
    group = text(dig(request, "GroupId")) or text(r.param("GroupId"))
    # The rewritten rules by id: what a heal revokes, after reading that each is inbound and world-open.
    references = [f"{group}/{rule}" for rule in rules if rule] if group else []
    return Hit(
        f"security group {group} rule rewritten: {'; '.join(opened)}",
        severity=worst,
        facts=facts(("Security group", group), ("Rules", [x for x in rules if x])),
        parties=tuple(p for ref in references for p in affected("security_group_rule", ref)),
    )


@detection(
    id="nacl_allow_all_from_world",
    title="Network ACL allows the internet in on everything or a sensitive port",
    severity=MEDIUM,
    listens=(calls(EC2, "CreateNetworkAclEntry", "ReplaceNetworkAclEntry"),),
    rationale=(
        "An inbound allow entry for the whole internet (all protocols, or a sensitive port) undoes the subnet's "
        "network boundary, often below Riposte's own deny entries."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.11 / v1.4 4.11 (Security Hub CloudWatch.11)",
        "MITRE ATT&CK T1562.007",
        "Panther: AWS.CloudTrail.NetworkACLPermissiveEntry",
    ),
    playbook=(
        "Delete or narrow the entry (its rule number is in the request)",
        "Check the subnet's security groups: they are now the only filter",
    ),
    remediation="ec2:DeleteNetworkAclEntry(NetworkAclId, RuleNumber, Egress=false) for a new entry.",
    benign="Deny entries (Riposte's own) and allow entries for web ports never fire.",
)
def nacl_allow_all_from_world(r: Record, ctx: Context) -> Hit | None:
    p = r.params
    if text(p.get("ruleAction")).lower() != "allow" or flag(p.get("egress")) is not False:
        return None
    cidr = text(p.get("cidrBlock")) or text(p.get("ipv6CidrBlock"))
    if not world_wide(cidr):
        return None
    protocol = _protocol(p.get("aclProtocol"))
    low, high = _port(dig(p, "portRange", "from")), _port(dig(p, "portRange", "to"))
    if protocol not in _ALL_PROTOCOLS and not (
        protocol in ("6", "17") and low is not None and high is not None and _exposure(protocol, low, high)
    ):
        return None
    acl = text(p.get("networkAclId"))
    what = "all traffic" if protocol in _ALL_PROTOCOLS else f"protocol {protocol} ports {low}-{high}"
    return Hit(
        f"network ACL {acl} rule {p.get('ruleNumber')} allows {what} from {cidr}",
        facts=facts(("Network ACL", acl), ("Rule number", p.get("ruleNumber"))),
    )


@detection(
    id="internet_gateway_attached",
    title="Internet gateway attached to a VPC",
    severity=LOW,
    response=Response.RECORD,
    listens=(calls(EC2, "AttachInternetGateway"),),
    rationale=(
        "An internet gateway gives a VPC a path to and from the internet; routine for public VPCs (low, recorded), "
        "a breach of design for VPCs that must stay isolated (high)."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.12 / v1.4 4.12 (Security Hub CloudWatch.12)",
        "MITRE ATT&CK T1599",
    ),
    playbook=(
        "For an isolated VPC: detach the gateway and review the route tables",
        "Otherwise confirm the change against IaC",
    ),
    remediation="ec2:DetachInternetGateway(InternetGatewayId, VpcId) for isolated VPCs.",
    benign="Detaching a gateway never fires; attaching one to an ordinary VPC is only recorded.",
)
def internet_gateway_attached(r: Record, ctx: Context) -> Hit | None:
    vpc, gateway = text(r.param("vpcId")), text(r.param("internetGatewayId"))
    isolated = vpc in ctx.isolated_vpcs
    return Hit(
        f"internet gateway {gateway} attached to {'isolated ' if isolated else ''}VPC {vpc}",
        severity=HIGH if isolated else LOW,
        facts=facts(("VPC", vpc), ("Internet gateway", gateway)),
    )


@detection(
    id="vpc_peering_foreign_account",
    title="VPC peering requested with an unknown account",
    severity=MEDIUM,
    listens=(calls(EC2, "CreateVpcPeeringConnection"),),
    rationale="Peering with another account's VPC bridges our network to one we do not control.",
    references=(
        "CIS AWS Foundations v1.2 3.14 / v1.4 4.14 (Security Hub CloudWatch.14)",
        "MITRE ATT&CK T1599",
        "Sigma: AWS VPC Peering Connection Created with External Account",
    ),
    playbook=(
        "Identify the peer account; delete the connection unless it is a known partner",
        "Check the route tables for routes to the peer",
    ),
    remediation="ec2:DeleteVpcPeeringConnection(<the id in the response>)",
    benign="Peering inside our account or with trusted accounts never fires.",
)
def vpc_peering_foreign_account(r: Record, ctx: Context) -> Hit | None:
    owner = text(r.param("peerOwnerId"))
    if not owner or ctx.trusted(owner, r):
        return None
    connection = text(dig(r.response, "vpcPeeringConnection", "vpcPeeringConnectionId"))
    return Hit(
        f"VPC {text(r.param('vpcId'))} peering requested with {text(r.param('peerVpcId'))} of account {owner}",
        parties=foreign(owner),
        facts=facts(("Peering connection", connection)),
    )
