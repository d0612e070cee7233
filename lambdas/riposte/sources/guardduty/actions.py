"""Readers of ``service.action``: who the remote party is to us, and what happened to our resource.

Roles. A remote that connects in, probes, tries to log in to a database or calls an API is an ACTOR; a remote
our resource reaches out to (C2, mining pool, Tor, a DNS domain) is a PEER, and our resource is then
COMPROMISED. A remote our resource attacks (a DoS, spam, port scan or brute force from it, said by the finding's
type, by resourceRole ACTOR, or by an outbound brute force) is a VICTIM, never blocked. Network path: only traffic
that crosses our VPC's network ACLs is ``network`` (connections, probes, database logins); an API or Kubernetes API
caller never crosses them.
"""

from __future__ import annotations

from riposte.core.model import SIGNAL_ALREADY_BLOCKED, EventKind, Role
from riposte.sources.guardduty.facts import Facts, clip, listing, port, resource_family, threat_purpose
from riposte.sources.guardduty.wire import (
    Action,
    AwsApiCallAction,
    DnsRequestAction,
    KubernetesApiCallAction,
    NetworkConnectionAction,
    PortProbeAction,
    RdsLoginAttemptAction,
)

# Threat purposes that mean the resource itself runs something hostile, whichever way the traffic goes.
COMPROMISE_PURPOSES = frozenset({"Backdoor", "CryptoCurrency", "Trojan"})
# Threat families that say the same: our resource acts as a Tor relay (Tor nodes connect in to it as well as out).
COMPROMISE_FAMILIES = frozenset({"TorRelay"})
# Anomalies (an unusual port, an unusual volume): worth a look, not evidence that the resource is compromised.
ANOMALY_PURPOSES = frozenset({"Behavior"})
# Threat families that say only that the remote is unusual for our resource (a public DNS, DoH or DoT resolver it
# never used before), not that the remote is hostile.
UNUSUAL_REMOTE_FAMILIES = ("Unusual",)
# Finding names that say an API or Kubernetes caller is hostile (threat lists, Tor, stolen instance
# credentials, attack distributions), so the credentials it used are compromised. Anomalies are not enough.
HOSTILE_CALLER_MARKS = ("MaliciousIPCaller", "TorIPCaller", "CredentialExfiltration", "PenTest:")
# CloudFormation types in ``affectedResources`` that name an entity Riposte knows.
AFFECTED_KINDS = {
    "AWS::S3::Bucket": "bucket",
    "AWS::EC2::Instance": "instance",
    "AWS::Lambda::Function": "function",
    "AWS::RDS::DBInstance": "db_instance",
    "AWS::EKS::Cluster": "cluster",
    "AWS::ECS::Cluster": "cluster",
}
S3_ARN_PREFIX = "arn:aws:s3:::"
# Threat families whose finding says, by definition, that OUR resource attacks the remote (GuardDuty's EC2 finding
# types: "is being used to perform a DoS attack", "communicating with a remote host on port 25", "probing a port on a
# large number of IP addresses", "performing outbound port scans"). The
# remote is then a victim whatever resourceRole says, or when it is absent. A mining pool or C2 server our resource
# reaches (CryptoCurrency, Trojan, C&CActivity) is not one: it is a hostile peer.
OUTBOUND_ATTACK_FAMILIES = ("DenialOfService.", "Spambot", "PortSweep", "Portscan")
# Brute-force families that go either way (their severity is low when our instance was the target, high when it is
# the actor): GuardDuty's resourceRole (ACTOR) or an OUTBOUND connection says it is ours that attacks. WinRM's type
# name says "outbound", but it is documented like SSH's and RDP's: an inbound attacker stays blockable.
EITHER_WAY_FAMILIES = ("SSHBruteForce", "RDPBruteForce", "WinRMBruteForce")


def hostile_caller(facts: Facts) -> bool:
    finding = facts.finding
    listed = finding.service.evidence is not None and bool(finding.service.evidence.threat_intelligence_details)
    return listed or any(mark in finding.type for mark in HOSTILE_CALLER_MARKS)


def _threat_family(finding_type: str) -> str:
    """``DenialOfService.Tcp`` of ``Backdoor:EC2/DenialOfService.Tcp!DNS``."""
    return finding_type.split("/", 1)[-1].split("!", 1)[0]


def attacks_by_definition(finding_type: str) -> bool:
    """Whether the finding's type says our resource attacks the remote, whichever direction or role it carries."""
    return _threat_family(finding_type).startswith(OUTBOUND_ATTACK_FAMILIES)


def remote_is_unremarkable(finding_type: str) -> bool:
    """Whether the finding says only that our resource's traffic to the remote is unusual, not that the remote is
    hostile: an anomaly (``Behavior:``) or an unusual resolver (``DefenseEvasion:EC2/UnusualDoHActivity``)."""
    unusual = _threat_family(finding_type).startswith(UNUSUAL_REMOTE_FAMILIES)
    return threat_purpose(finding_type) in ANOMALY_PURPOSES or unusual


def ours_attacks(finding_type: str, direction: str, resource_role: str) -> bool:
    """Whether an outbound (or unknown-direction) connection is our resource attacking the remote."""
    if resource_role == "ACTOR":
        return True
    return _threat_family(finding_type) in EITHER_WAY_FAMILIES and direction == "OUTBOUND"


def _blocked(facts: Facts, blocked: bool | None) -> None:
    if blocked:
        facts.signals.add(SIGNAL_ALREADY_BLOCKED)


def network_connection(conn: NetworkConnectionAction, facts: Facts) -> None:
    facts.kind = EventKind.NETWORK_CONNECTION
    direction = (conn.connection_direction or "UNKNOWN").upper()
    resource_role = (facts.finding.service.resource_role or "").upper()
    # The type is the definition for a DoS, spam or scan FROM our resource: a direction or resourceRole saying
    # otherwise is no reason to block an innocent remote.
    by_definition = attacks_by_definition(facts.finding.type)
    if direction == "INBOUND" and not by_definition:
        facts.remote(conn.remote_ip_details, Role.ACTOR, network=facts.in_vpc)
    elif by_definition or ours_attacks(facts.finding.type, direction, resource_role):
        # Our resource attacks the remote (DoS, spam, port scan, brute force): the remote is a victim, not
        # hostile, and never offered to block_ip: denying a victim (a mail server our spambot hits, a resolver)
        # cuts our own traffic to it and stops nothing that isolating our resource would not.
        facts.remote(conn.remote_ip_details, Role.VICTIM, network=facts.in_vpc)
        facts.workload_role = Role.COMPROMISED
    elif remote_is_unremarkable(facts.finding.type):
        # An anomaly says our resource's traffic to this remote is unusual (volume, port, a resolver it never
        # used), nothing about the remote: a backup target, an AWS endpoint or 8.8.8.8. Denying it in the NACL
        # would cut every host of the VPC off from it, so it is a counterpart, never offered to block_ip;
        # isolating our resource, if it is compromised, is the response.
        facts.remote(conn.remote_ip_details, Role.COUNTERPART, network=facts.in_vpc)
        if direction == "OUTBOUND":
            facts.workload_role = Role.COMPROMISED
    else:
        facts.remote(conn.remote_ip_details, Role.PEER, network=facts.in_vpc)
        if direction == "OUTBOUND":
            facts.workload_role = Role.COMPROMISED
    purpose = threat_purpose(facts.finding.type)
    if purpose in COMPROMISE_PURPOSES or _threat_family(facts.finding.type) in COMPROMISE_FAMILIES:
        facts.workload_role = Role.COMPROMISED
    elif purpose in ANOMALY_PURPOSES:
        facts.workload_role = Role.AFFECTED
    facts.add("Direction", direction.lower())
    facts.add("Local port", port(conn.local_port_details, conn.protocol))
    facts.add("Remote port", port(conn.remote_port_details, conn.protocol))
    _blocked(facts, conn.blocked)


def port_probe(probe: PortProbeAction, facts: Facts) -> None:
    facts.kind = EventKind.PORT_PROBE
    for detail in probe.port_probe_details:
        facts.remote(detail.remote_ip_details, Role.ACTOR, network=facts.in_vpc)
    facts.add("Probed ports", listing((port(d.local_port_details) for d in probe.port_probe_details), limit=10))
    _blocked(facts, probe.blocked)


def _caller_account(call: AwsApiCallAction, facts: Facts) -> None:
    remote = call.remote_account_details
    if remote is None or not remote.account_id or remote.account_id == facts.finding.account_id:
        return
    if remote.aws_service_name:
        facts.add("Caller account", f"{remote.account_id} (AWS service {remote.aws_service_name})")
    elif remote.affiliated:
        facts.party("account", remote.account_id, Role.AFFECTED)
        facts.add("Caller account", f"{remote.account_id} (affiliated with your GuardDuty organization)")
    else:
        facts.party("account", remote.account_id, Role.ACTOR)
        facts.add("Caller account", f"{remote.account_id} (outside your organization)")


def _affected_resources(call: AwsApiCallAction, facts: Facts) -> None:
    others = []
    for cfn_type, identifier in call.affected_resources.items():
        kind = AFFECTED_KINDS.get(cfn_type)
        if kind == "bucket":
            facts.party(kind, identifier.removeprefix(S3_ARN_PREFIX), facts.bucket_role)
        elif kind:
            facts.party(kind, identifier, Role.AFFECTED)
        else:
            others.append(f"{cfn_type} {identifier}")
    facts.add("Affected resources", listing(others))


def api_call(call: AwsApiCallAction, facts: Facts) -> None:
    facts.kind = EventKind.API_CALL
    # The caller reached AWS's API endpoints, not our VPC: no network ACL of ours sees it.
    facts.remote(call.remote_ip_details, Role.ACTOR, network=False)
    if hostile_caller(facts):
        facts.identity_role = Role.COMPROMISED
    if threat_purpose(facts.finding.type) == "Exfiltration" and resource_family(facts.finding.type) == "S3":
        facts.bucket_role = Role.COMPROMISED
    facts.add("API", f"{call.service_name}:{call.api}" if call.service_name and call.api else call.api)
    facts.add("API error", call.error_code)
    facts.add("Caller domain", call.domain_details.domain if call.domain_details else None)
    facts.add("User agent", clip(call.user_agent) if call.user_agent else None)
    _caller_account(call, facts)
    _affected_resources(call, facts)


def dns_request(dns: DnsRequestAction, facts: Facts) -> None:
    facts.kind = EventKind.DNS_REQUEST
    facts.add("Domain", dns.domain)
    facts.party("domain", dns.domain, Role.PEER)
    facts.workload_role = Role.COMPROMISED
    # A shared VPC's owner account is ours too.
    if dns.vpc_owner_account_id and dns.vpc_owner_account_id != facts.finding.account_id:
        facts.party("account", dns.vpc_owner_account_id, Role.AFFECTED)
    _blocked(facts, dns.blocked)


def kubernetes_api_call(call: KubernetesApiCallAction, facts: Facts) -> None:
    facts.kind = EventKind.KUBERNETES_API_CALL
    # The caller reached the cluster's API endpoint (AWS-managed), never through our network ACLs.
    facts.remote(call.remote_ip_details, Role.ACTOR, network=False)
    for address in call.source_ips:
        facts.remote_address(address, Role.ACTOR, network=False)
    if hostile_caller(facts):
        facts.identity_role = Role.COMPROMISED
    request = clip(" ".join(p for p in (call.verb, call.request_uri or call.resource) if p))
    status = f" ({call.status_code})" if call.status_code is not None else ""
    facts.add("Kubernetes API", request + status if request else None)
    facts.add("User agent", clip(call.user_agent) if call.user_agent else None)


def rds_login_attempt(login: RdsLoginAttemptAction, facts: Facts) -> None:
    facts.kind = EventKind.RDS_LOGIN_ATTEMPT
    # The database listens in our VPC: a network ACL on its subnets stops the source.
    facts.remote(login.remote_ip_details, Role.ACTOR, network=facts.in_vpc)
    name = facts.finding.type
    if "Successful" in name and ("BruteForce" in name or hostile_caller(facts)):
        facts.workload_role = facts.identity_role = Role.COMPROMISED
    attempts = []
    for attribute in login.login_attributes:
        facts.party("principal", attribute.user, facts.identity_role)
        counts = [
            f"{n} {what}"
            for n, what in (
                (attribute.failed_login_attempts, "failed"),
                (attribute.successful_login_attempts, "successful"),
            )
            if n
        ]
        who = f"{attribute.user or '?'} ({attribute.application})" if attribute.application else attribute.user
        attempts.append(f"{who}: {', '.join(counts) or 'no count'}")
    facts.add("Login attempts", listing(attempts))


def _kubernetes_details(action: Action, facts: Facts) -> None:
    binding = action.kubernetes_role_binding_details
    if binding and binding.name:
        facts.add("Role binding", f"{binding.name} -> {binding.role_ref_kind or 'role'} {binding.role_ref_name or '?'}")
    role = action.kubernetes_role_details
    if role and role.name:
        facts.add("Role", f"{role.kind or 'Role'} {role.name}")
    checked = action.kubernetes_permission_checked_details
    if checked and checked.verb:
        allowed = {True: "allowed", False: "denied", None: "unknown"}[checked.allowed]
        facts.add("Permission checked", f"{checked.verb} {checked.resource or '*'}: {allowed}")


def read(action: Action, facts: Facts) -> None:
    """Read the one action a finding carries (``{}`` for runtime process findings)."""
    if action.network_connection_action is not None:
        network_connection(action.network_connection_action, facts)
    elif action.port_probe_action is not None:
        port_probe(action.port_probe_action, facts)
    elif action.aws_api_call_action is not None:
        api_call(action.aws_api_call_action, facts)
    elif action.dns_request_action is not None:
        dns_request(action.dns_request_action, facts)
    elif action.kubernetes_api_call_action is not None:
        kubernetes_api_call(action.kubernetes_api_call_action, facts)
    elif action.rds_login_attempt_action is not None:
        rds_login_attempt(action.rds_login_attempt_action, facts)
    _kubernetes_details(action, facts)
