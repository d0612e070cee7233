"""Ten `riposte run` processes on one NACL at once, sharing a state table (moto server): every block lands,
no two share a rule number, and every block record is confirmed and names the entry it owns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from demo.local import create_state_table, moto_server
from tests.conftest import load_event

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("processes")]


def test_ten_concurrent_runs_leave_truthful_records_and_distinct_numbers(tmp_path: Path) -> None:
    with moto_server() as endpoint:
        ec2 = boto3.client("ec2", endpoint_url=endpoint)
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
        create_state_table(dynamodb, "state")
        config = tmp_path / "c.toml"
        config.write_text(f'mode = "enforce"\n[nacl]\nnetwork_acl_ids = ["{acl}"]\nrule_range = [1, 50]\n')
        addresses = [f"45.13.104.{n}" for n in range(10, 20)]
        for address in addresses:
            raw = load_event("c2_activity_outbound.json")
            raw["detail"]["id"] = f"{address.replace('.', '')}".ljust(32, "0")
            raw["detail"]["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"] = address
            (tmp_path / f"{address}.json").write_text(json.dumps(raw))
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        binary = str(Path(sys.executable).with_name("riposte"))
        runs = [
            subprocess.Popen(
                [binary, "run", "--config", str(config), "--table", "state", str(tmp_path / f"{a}.json")],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for a in addresses
        ]
        outputs = [run.communicate(timeout=120) for run in runs]
        lines = [json.loads(out) for out, _ in outputs]
        failed = [x["actions"][0]["detail"] for x in lines if x["actions"][0]["status"] != "done"]
        assert failed == []
        entries = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Entries"]
        denied = {e["CidrBlock"]: e["RuleNumber"] for e in entries if e["RuleAction"] == "deny"}
        assert set(denied) == {f"{a}/32" for a in addresses}
        assert len(set(denied.values())) == 10
        items = dynamodb.scan(TableName="state")["Items"]
        records = {i["sk"]["S"].split("#", 1)[1]: i for i in items if i["pk"]["S"] == f"block#{acl}"}
        assert set(records) == set(denied)
        for cidr, record in records.items():
            assert record["status"]["S"] == "active"
            assert int(record["rule_number"]["N"]) == denied[cidr]
        assert not [i for i in items if i["pk"]["S"].startswith("lock#")]  # every lock given back
