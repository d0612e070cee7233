"""Expiry and reconciliation against moto (EC2, DynamoDB, WAF) through the real adapters: the scheduled handler
and the `blocks`, `unblock` and `expire` commands, in process and against a moto server through
AWS_ENDPOINT_URL as a person would run them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from demo.local import LambdaContext, create_state_table, moto_server
from riposte.actions import ActionContext, Ports
from riposte.actions import block_ip as block_ip_module
from riposte.actions import block_waf as block_waf_module
from riposte.actions.block_ip import BlockIp
from riposte.actions.block_waf import BlockWaf
from riposte.adapters.aws import waf as waf_module
from riposte.adapters.aws.dynamodb import DynamoState
from riposte.adapters.aws.ec2 import Ec2Nacls
from riposte.commands import blocks
from riposte.core import config as cfg
from riposte.core.model import Status
from riposte.core.ports import NaclEntry
from riposte.engine import pipeline, setup
from riposte.handlers import environment
from riposte.handlers import maintenance as handler_module
from tests.conftest import ROOT, load_event

TABLE = "riposte-test-state"
NOW = datetime.now(UTC).replace(microsecond=0)
LONG_AGO = NOW - timedelta(hours=25)  # blocks made then (24h TTL) have expired
EVENT = pipeline.plan(load_event("ec2_ssh_bruteforce_inbound.json"), cfg.Config()).event


@dataclass(frozen=True)
class WafPorts:
    nacl: Any
    state: Any
    waf: Any


@dataclass
class World:
    ec2: Any
    dynamodb: Any
    wafv2: Any
    acl: str
    ip_set: dict[str, str]
    config: cfg.Config
    config_file: Path

    def denied(self) -> dict[int, str]:
        entries = self.ec2.describe_network_acls(NetworkAclIds=[self.acl])["NetworkAcls"][0]["Entries"]
        return {e["RuleNumber"]: e["CidrBlock"] for e in entries if e["RuleAction"] == "deny" and not e["Egress"]}

    def waf_addresses(self) -> list[str]:
        got = self.wafv2.get_ip_set(Name=self.ip_set["name"], Scope="REGIONAL", Id=self.ip_set["id"])
        return sorted(got["IPSet"]["Addresses"])

    def items(self, prefix: str) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=TABLE)["Items"]
        return [i for i in items if i["pk"]["S"].startswith(prefix) or i["sk"]["S"].startswith(prefix)]

    def audit(self) -> list[tuple[str, str, str]]:
        found = [i for i in self.items("audit#") if i["kind"]["S"] in ("expiry", "reconcile", "unblock")]
        return sorted((i["kind"]["S"], i["target"]["S"], i["status"]["S"]) for i in found)

    def block(self, target: str, when: datetime, *, waf: bool = False) -> None:
        nacls = Ec2Nacls(self.ec2, network_acl_ids=(self.acl,), vpc_ids=())
        state = DynamoState(boto3.resource("dynamodb").Table(TABLE))
        port = waf_module.Wafv2IpSets({"REGIONAL": self.wafv2}, self.config.waf.ip_sets)
        ports = WafPorts(nacls, state, port) if waf else Ports(nacl=nacls, state=state)
        ctx = ActionContext(event=EVENT, config=self.config, ports=ports, now=when)  # type: ignore[arg-type]
        outcome = (BlockWaf() if waf else BlockIp()).execute(target, ctx)
        assert outcome.status is Status.DONE, outcome.detail


def build_world(tmp_path: Path) -> World:
    ec2, dynamodb, wafv2 = boto3.client("ec2"), boto3.client("dynamodb"), boto3.client("wafv2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    create_state_table(dynamodb, TABLE)
    summary = wafv2.create_ip_set(Name="riposte-v4", Scope="REGIONAL", IPAddressVersion="IPV4", Addresses=[])
    ip_set = {"name": "riposte-v4", "id": summary["Summary"]["Id"]}
    config_file = tmp_path / "riposte.toml"
    config_file.write_text(
        'mode = "enforce"\nactions = ["block_ip", "block_waf"]\n'
        f'[nacl]\nnetwork_acl_ids = ["{acl}"]\nrule_range = [1, 99]\n'
        f'[waf]\nip_sets = [{{ name = "{ip_set["name"]}", id = "{ip_set["id"]}" }}]\n'
    )
    world = World(ec2, dynamodb, wafv2, acl, ip_set, setup.load(config_file), config_file)
    # A person's entries: one inside the managed range, one outside; a person's address in the set.
    for number, cidr in ((50, "193.32.162.5/32"), (150, "193.32.162.6/32")):
        ec2.create_network_acl_entry(
            NetworkAclId=acl, RuleNumber=number, Protocol="-1", RuleAction="deny", Egress=False, CidrBlock=cidr
        )
    current = wafv2.get_ip_set(Name=ip_set["name"], Scope="REGIONAL", Id=ip_set["id"])
    wafv2.update_ip_set(
        Name=ip_set["name"],
        Scope="REGIONAL",
        Id=ip_set["id"],
        Addresses=["193.32.162.7/32"],
        LockToken=current["LockToken"],
    )
    world.block("91.240.118.77", LONG_AGO)  # rule 1, expired
    world.block("45.13.104.17", NOW)  # rule 2, running
    world.block("185.156.72.9", LONG_AGO, waf=True)  # expired
    world.block("45.13.104.18", NOW, waf=True)  # running
    return world


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (block_ip_module, block_waf_module, waf_module):
        monkeypatch.setattr(module, "pause", lambda _: None)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.delenv(environment.TABLE, raising=False)
    with mock_aws():
        yield build_world(tmp_path)


def run_handler(world: World, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv(cfg.ENV_VAR, world.config.to_json())
    monkeypatch.setenv(environment.TABLE, TABLE)
    handler_module.runtime.cache_clear()
    result: dict[str, Any] = handler_module.handler({"source": "aws.events"}, LambdaContext())  # type: ignore[arg-type]
    return result


def test_the_scheduled_run_removes_exactly_the_expired_entries_it_owns(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.denied() == {
        1: "91.240.118.77/32",
        2: "45.13.104.17/32",
        50: "193.32.162.5/32",
        150: "193.32.162.6/32",
    }
    result = run_handler(world, monkeypatch)
    assert world.denied() == {2: "45.13.104.17/32", 50: "193.32.162.5/32", 150: "193.32.162.6/32"}
    assert world.waf_addresses() == ["193.32.162.7/32", "45.13.104.18/32"]
    assert sorted((r["cidr"], r["event_id"]) for r in result["removed"]) == [
        ("185.156.72.9/32", EVENT.id),
        ("91.240.118.77/32", EVENT.id),
    ]
    assert world.audit() == [("expiry", "185.156.72.9/32", "removed"), ("expiry", "91.240.118.77/32", "removed")]
    assert sorted(i["sk"]["S"] for i in world.items("block#")) == ["ingress#45.13.104.17/32", "ingress#45.13.104.18/32"]
    # The person's entry in the managed range and the person's address in the set: reported, untouched.
    assert sorted((d["kind"], d["cidr"]) for d in result["drift"]) == [
        ("unmanaged", "193.32.162.5/32"),
        ("unmanaged", "193.32.162.7/32"),
    ]
    assert result["counts"]["failed"] == 0
    again = run_handler(world, monkeypatch)  # nothing left to do: idempotent
    assert again["removed"] == []
    assert world.denied() == {2: "45.13.104.17/32", 50: "193.32.162.5/32", 150: "193.32.162.6/32"}


def test_a_manually_deleted_entry_is_reported_by_the_reconciler_and_not_recreated(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.ec2.delete_network_acl_entry(NetworkAclId=world.acl, RuleNumber=2, Egress=False)
    result = run_handler(world, monkeypatch)
    missing = [d for d in result["drift"] if d["kind"] == "missing"]
    assert [(d["container"], d["cidr"], d["rule_number"]) for d in missing] == [(world.acl, "45.13.104.17/32", 2)]
    assert 2 not in world.denied()
    assert ("reconcile", "45.13.104.17/32", "forgotten") in world.audit()
    assert "ingress#45.13.104.17/32" not in [i["sk"]["S"] for i in world.items("block#")]


def test_a_run_that_fails_raises_so_lambda_retries_it_then_keeps_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = world.config.model_dump(by_alias=True, mode="json")
    data["nacl"]["network_acl_ids"] = [world.acl, "acl-0fedcba9876543210"]  # no such ACL
    world.config = setup.parse(data)
    with pytest.raises(handler_module.MaintenanceFailedError, match="1 failure"):
        run_handler(world, monkeypatch)
    assert 1 not in world.denied()  # the readable ACL was still maintained


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = blocks.main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_blocks_lists_every_recorded_block_with_why_when_and_where(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = cli(capsys, "blocks", "--json", "--table", TABLE, "--config", str(world.config_file))
    assert status == 0
    lines = [json.loads(line) for line in out.splitlines()]
    # Soonest expiry first.
    assert [(b["address"], b["kind"], b["rule_number"], b["expired"]) for b in lines] == [
        ("91.240.118.77/32", "nacl", 1, True),
        ("185.156.72.9/32", "waf", 0, True),
        ("45.13.104.17/32", "nacl", 2, False),
        ("45.13.104.18/32", "waf", 0, False),
    ]
    assert set(lines[0]) == {
        "address",
        "container",
        "kind",
        "rule_number",
        "direction",
        "status",
        "created_at",
        "expires_at",
        "expired",
        "event_id",
        "reason",
        "score",
        "offences",
    }
    assert lines[0]["container"] == world.acl
    assert lines[0]["expires_at"] == (LONG_AGO + timedelta(hours=24)).isoformat()
    assert (lines[0]["event_id"], lines[0]["status"], lines[0]["direction"]) == (EVENT.id, "active", "ingress")
    assert lines[1]["reason"] == EVENT.title
    status, out, _ = cli(capsys, "blocks", "--table", TABLE, "--config", str(world.config_file))
    assert status == 0
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["ADDRESS", "WHERE", "RULE", "DIR"]
    assert rows[0].startswith("91.240.118.77/32")
    assert "(expired)" in rows[0]
    assert re.search(r"\(in 23h[0-5]\dm\)", rows[2]), rows[2]  # made at NOW for 24h


def test_unblock_removes_what_riposte_owns_verified_and_audited(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--table", TABLE, "--config", str(world.config_file))
    status, out, _ = cli(capsys, "unblock", "45.13.104.17", "--dry-run", *args)
    assert (status, world.denied()[2]) == (0, "45.13.104.17/32")
    assert json.loads(out)["steps"][0]["status"] == "dry_run"
    status, out, _ = cli(capsys, "unblock", "45.13.104.17", *args)
    assert status == 0
    assert [(r["container"], r["cidr"]) for r in json.loads(out)["removed"]] == [(world.acl, "45.13.104.17/32")]
    assert 2 not in world.denied()
    assert ("unblock", "45.13.104.17/32", "removed") in world.audit()
    status, _, err = cli(capsys, "unblock", "45.13.104.17", *args)
    assert status == 1
    assert "no block of 45.13.104.17 is recorded by Riposte" in err
    status, _, _ = cli(capsys, "unblock", "193.32.162.5", *args)  # a person's entry: not ours to remove
    assert (status, world.denied()[50]) == (1, "193.32.162.5/32")


def test_expire_runs_once_at_the_given_time(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--table", TABLE, "--config", str(world.config_file))
    later = (NOW + timedelta(days=2)).isoformat()
    status, out, _ = cli(capsys, "expire", "--now", later, "--dry-run", *args)
    assert status == 0
    report = json.loads(out)
    assert (report["mode"], report["counts"]["would_change"], len(world.denied())) == ("dry_run", 4, 4)
    status, out, _ = cli(capsys, "expire", *args)  # now: only the expired ones
    assert (status, json.loads(out)["counts"]["removed"]) == (0, 2)
    status, out, _ = cli(capsys, "expire", "--now", later, *args)
    assert (status, json.loads(out)["counts"]["removed"]) == (0, 2)
    assert world.denied() == {50: "193.32.162.5/32", 150: "193.32.162.6/32"}
    assert world.waf_addresses() == ["193.32.162.7/32"]


def test_bad_command_lines_exit_2_before_any_aws_call(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    config = ("--config", str(world.config_file))
    status, _, err = cli(capsys, "blocks", *config)
    assert (status, "--table NAME (or $RIPOSTE_TABLE) is required" in err) == (2, True)
    status, _, err = cli(capsys, "expire", "--now", "next tuesday", "--table", TABLE, *config)
    assert (status, "is not an ISO 8601 time" in err) == (2, True)
    status, _, err = cli(capsys, "unblock", "not-an-ip", "--table", TABLE, *config)
    assert (status, "is not an IP address or CIDR" in err) == (2, True)


@pytest.mark.slow
def test_the_commands_work_against_a_local_endpoint_with_ordinary_boto3_configuration(tmp_path: Path) -> None:
    with moto_server() as url:
        env = {**os.environ, "AWS_ENDPOINT_URL": url, "PYTHONPATH": str(ROOT / "lambdas")}
        os.environ["AWS_ENDPOINT_URL"] = url
        try:
            world = build_world(tmp_path)
        finally:
            del os.environ["AWS_ENDPOINT_URL"]
        base = [sys.executable, "-m", "riposte.commands.blocks"]
        args = ["--table", TABLE, "--config", str(world.config_file)]
        listed = subprocess.run(
            [*base, "blocks", "--json", *args], env=env, capture_output=True, text=True, check=False
        )
        assert listed.returncode == 0, listed.stderr
        assert len(listed.stdout.splitlines()) == 4
        expired = subprocess.run([*base, "expire", *args], env=env, capture_output=True, text=True, check=False)
        assert expired.returncode == 0, expired.stderr
        assert json.loads(expired.stdout)["counts"]["removed"] == 2
        assert world.denied() == {2: "45.13.104.17/32", 50: "193.32.162.5/32", 150: "193.32.162.6/32"}


def test_nacl_entries_of_moto_match_what_the_planner_reads(world: World) -> None:
    entries = Ec2Nacls(world.ec2, network_acl_ids=(world.acl,), vpc_ids=()).entries(world.acl)
    assert NaclEntry(50, False, "deny", "193.32.162.5/32") in entries
