"""`make demo`: run Riposte's real responder handler against a local AWS (moto server) and a local Slack.

It builds a small VPC (subnet, NACL with unmanaged rules, an instance), routes the bundled GuardDuty findings
through an EventBridge rule (the same pattern the stack deploys) into SQS, hands the queued messages to the
responder exactly as Lambda would, redelivers them once, and prints what happened. Exits non-zero if any
expectation fails. Touches nothing outside 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.local import LambdaContext, create_state_table, http_sink, moto_server, sqs_record  # noqa: E402

EVENTS = ROOT / "tests" / "events" / "guardduty"
SAMPLES = [
    "c2_activity_outbound.json",
    "bitcoin_outbound.json",
    "tor_client_partner.json",
    "ssh_bruteforce_inbound.json",
]
SAMPLE_INSTANCE = "i-0a1b2c3d4e5f60718"
REGION = "us-east-1"


def shown(text: str) -> str:
    """Slack's three escapes decoded, as a Slack client displays the text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def title(text: str) -> None:
    print(f"\n=== {text} " + "=" * max(0, 74 - len(text)))


def show_nacl(ec2: Any, acl_id: str) -> list[dict[str, Any]]:
    entries = ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]["Entries"]
    rows = sorted(entries, key=lambda e: (e["Egress"], e["RuleNumber"]))
    for e in rows:
        ports = e.get("PortRange")
        port_text = f"{ports['From']}-{ports['To']}" if ports else "all"
        proto = {"-1": "all", "6": "tcp", "17": "udp"}.get(str(e["Protocol"]), e["Protocol"])
        print(
            f"  {'egress ' if e['Egress'] else 'ingress'} rule {e['RuleNumber']:>5}  {e['RuleAction']:<5} "
            f"{e.get('CidrBlock') or e.get('Ipv6CidrBlock'):<18} {proto}/{port_text}"
        )
    return rows


def build_network(ec2: Any) -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    default = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["NetworkAcls"][
        0
    ]
    association = next(a for a in default["Associations"] if a["SubnetId"] == subnet)["NetworkAclAssociationId"]
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
    # The user's own rules. Rule 5 sits inside Riposte's managed range 1-99: Riposte must step around it.
    unmanaged = [
        (5, False, "deny", "192.0.2.200/32", "-1", None),
        (100, False, "allow", "0.0.0.0/0", "6", (443, 443)),
        (110, False, "allow", "198.51.100.0/24", "6", (22, 22)),
        (120, False, "allow", "0.0.0.0/0", "6", (1024, 65535)),
        (100, True, "allow", "0.0.0.0/0", "-1", None),
    ]
    for number, egress, action, cidr, protocol, ports in unmanaged:
        extra = {"PortRange": {"From": ports[0], "To": ports[1]}} if ports else {}
        ec2.create_network_acl_entry(
            NetworkAclId=acl,
            RuleNumber=number,
            Egress=egress,
            RuleAction=action,
            CidrBlock=cidr,
            Protocol=protocol,
            **extra,
        )
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, InstanceType="t3.micro", SubnetId=subnet, MinCount=1, MaxCount=1)
    return acl, instance["Instances"][0]["InstanceId"]


def queued_as_lambda_event(sqs: Any, queue_url: str, queue_arn: str, expected: int) -> dict[str, Any]:
    """Drain the queue into the event Lambda's SQS poller would hand the function."""
    records: list[dict[str, Any]] = []
    for _ in range(10):
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        records += [
            sqs_record(m["MessageId"], m["Body"], queue_arn=queue_arn, receipt=m["ReceiptHandle"], md5=m["MD5OfBody"])
            for m in batch
        ]
        if len(records) >= expected:
            break
    return {"Records": records}


def show_synth(expect: Any) -> None:
    """Summarize the cdk-nag report of the `cdk synth` that `make demo` ran just before."""
    report_path = ROOT / "cdk.out" / "validation-report.json"
    if not report_path.exists():
        print("  (no cdk.out/validation-report.json: run `make demo` to synthesize first)")
        return
    (plugin,) = json.loads(report_path.read_text())["pluginReports"]
    acknowledged = plugin["suppressedViolations"]
    print(f"  cdk-nag {plugin['pluginName']}: {plugin['conclusion']}, {len(plugin['violations'])} violations")
    for item in acknowledged:
        print(f"    acknowledged {item['ruleName']}: {item['reason'][:90]}...")
    expect(plugin["conclusion"] == "success" and not plugin["violations"], "stacks pass cdk-nag")


def main() -> int:  # noqa: PLR0915 - a script that tells one story from top to bottom
    failures: list[str] = []

    def expect(condition: bool, what: str) -> None:
        print(f"  [{'ok' if condition else 'FAILED'}] {what}")
        if not condition:
            failures.append(what)

    title("Stacks synthesized by `cdk synth` (cdk.out/)")
    show_synth(expect)

    with moto_server() as endpoint, http_sink() as slack:
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "demo",
                "AWS_SECRET_ACCESS_KEY": "demo",
                "AWS_DEFAULT_REGION": REGION,
                "POWERTOOLS_LOG_LEVEL": "WARNING",
                "POWERTOOLS_METRICS_DISABLED": "true",
            }
        )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        import boto3

        from riposte.core import config as cfg
        from riposte.engine import pipeline, setup
        from riposte.sources import SOURCES

        ec2, sqs, events = boto3.client("ec2"), boto3.client("sqs"), boto3.client("events")
        dynamodb, secrets = boto3.client("dynamodb"), boto3.client("secretsmanager")
        title(f"Local AWS (moto) at {endpoint}, Slack sink at {slack.url}")

        acl, instance = build_network(ec2)
        print(f"  VPC 10.20.0.0/16, subnet 10.20.1.0/24, network ACL {acl}, instance {instance}")
        table = "riposte-demo-state"
        create_state_table(dynamodb, table)
        data = tomllib.loads((ROOT / "demo" / "riposte.demo.toml").read_text())
        data["nacl"]["network_acl_ids"] = [acl]
        config = setup.parse(data, "demo/riposte.demo.toml")
        secrets.create_secret(
            Name=config.secret_name("slack_webhook_url", "riposte/slack-webhook-url"), SecretString=slack.url
        )
        secrets.create_secret(
            Name=config.secret_name("pagerduty_routing_key", "riposte/pagerduty-routing-key"), SecretString="fill-me-in"
        )

        queue_url = sqs.create_queue(QueueName="riposte-demo-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        (pattern,) = SOURCES.get("guardduty").event_patterns
        events.put_rule(Name="riposte-guardduty", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="riposte-guardduty", Targets=[{"Id": "queue", "Arn": queue_arn}])

        title(f"Network ACL {acl} before")
        before = show_nacl(ec2, acl)

        os.environ[cfg.ENV_VAR] = config.to_json()
        os.environ["RIPOSTE_TABLE"] = table
        from riposte.handlers import responder

        title("GuardDuty findings -> EventBridge -> SQS")
        for name in SAMPLES:
            finding = json.loads((EVENTS / name).read_text().replace(SAMPLE_INSTANCE, instance))
            events.put_events(
                Entries=[
                    {
                        "Source": finding["source"],
                        "DetailType": finding["detail-type"],
                        "Detail": json.dumps(finding["detail"]),
                    }
                ]
            )
            print(f"  {name}: {finding['detail']['type']} (severity {finding['detail']['severity']})")
        # An event from another source must not match the rule.
        events.put_events(
            Entries=[{"Source": "aws.ec2", "DetailType": "EC2 Instance State-change Notification", "Detail": "{}"}]
        )
        lambda_event = queued_as_lambda_event(sqs, queue_url, queue_arn, len(SAMPLES))
        expect(
            len(lambda_event["Records"]) == len(SAMPLES),
            f"the rule routed exactly the {len(SAMPLES)} findings",
        )

        title("Responder handler (as Lambda invokes it)")
        response = responder.handler(lambda_event, LambdaContext(aws_request_id=str(uuid.uuid4())))
        expect(response.get("batchItemFailures") == [], f"no failed records ({response})")
        for record in lambda_event["Records"]:
            event_id = pipeline.plan(json.loads(record["body"]), config).event.id
            items = dynamodb.query(
                TableName=table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
                ExpressionAttributeValues={":pk": {"S": f"event#{event_id}"}, ":audit": {"S": "audit#"}},
            )["Items"]
            decision = next(i for i in items if i["kind"]["S"] == "decision")
            print(f"\n  {json.loads(record['body'])['detail']['type']}")
            print(f"    decision: {decision['detail']['S']}")
            for item in items:
                if item["kind"]["S"] != "decision":
                    target = f" {item['target']['S']}" if item["target"]["S"] else ""
                    what = f"{item['name']['S']}{target}: {item['status']['S']}"
                    print(f"    {item['kind']['S']:<12} {what}  {item['detail']['S']}")

        title(f"Network ACL {acl} after")
        after = show_nacl(ec2, acl)
        denied = {e.get("CidrBlock"): e["RuleNumber"] for e in after if e["RuleAction"] == "deny" and not e["Egress"]}
        expect(
            denied.get("91.240.118.77/32") in range(1, 100),
            "C&C address blocked inside the managed range 1-99",
        )
        expect(
            denied.get("45.13.105.9/32") in range(1, 100),
            "Bitcoin-pool address blocked inside the managed range",
        )
        expect("34.120.5.44/32" not in denied, "allowlisted partner address 34.120.5.44 refused, not blocked")
        expect("185.156.73.23/32" not in denied, "low-score SSH brute force (score 25) not blocked")
        expect(all(e in after for e in before), "every unmanaged rule is untouched (rule 5 stepped around)")

        title("Slack messages received")
        for number, request in enumerate(slack.requests, 1):
            blocks = request["json"]["blocks"]
            print(f"  [{number}] {shown(blocks[0]['text']['text'])}")
            for block in blocks[1:]:
                text = block.get("text", {}).get("text") or " | ".join(
                    f["text"].replace("\n", ": ") for f in block.get("fields", []) + block.get("elements", [])
                )
                print("      " + shown(text).replace("\n", "\n      "))
        expect(
            len(slack.requests) == 3,
            "3 Slack messages (the two blocks and the refused partner; not the low score)",
        )

        title("Redelivery of the same messages (SQS at-least-once)")
        sent_before = len(slack.requests)
        response = responder.handler(lambda_event, LambdaContext(aws_request_id=str(uuid.uuid4())))
        again = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Entries"]
        expect(response.get("batchItemFailures") == [], "no failed records")
        expect(len(again) == len(after), f"no new NACL entry ({len(again)} entries before and after)")
        expect(len(slack.requests) == sent_before, "no second Slack message")

    title("Result")
    if failures:
        print(f"  {len(failures)} expectation(s) failed: {failures}")
        return 1
    print("  all expectations met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
