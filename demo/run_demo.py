"""`make demo`: Riposte's real handlers against a local AWS (moto server), a local Slack and a local PagerDuty.

The story, told from top to bottom (every step is checked; the demo exits non-zero if an expectation fails):

1. GuardDuty findings arrive through the EventBridge pattern the stack deploys, into SQS, and the responder
   handles them as Lambda would: hostile addresses denied in the NACL around the user's own rules, a partner
   refused, a low score left alone, the compromised instance isolated; Slack and PagerDuty told.
2. A Sumo Logic alert arrives over HTTP at the webhook front door (authenticated) and becomes blocks too.
3. The managed range fills up: a more valuable attacker evicts the least valuable block, in place.
4. An attacker stops the CloudTrail trail; CloudTrail's record of it arrives, and Riposte restarts the logging.
5. Everything is redelivered: nothing is added, nothing is sent twice.
6. A day later, the maintenance job removes the expired blocks it owns, and nothing else.

Touches nothing outside 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import tomllib
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.local import LambdaContext, create_state_table, http_sink, moto_server, sqs_record  # noqa: E402

EVENTS = ROOT / "tests" / "events"
SAMPLES = [
    "c2_activity_outbound.json",
    "bitcoin_outbound.json",
    "tor_client_partner.json",
    "ssh_bruteforce_inbound.json",
]
SAMPLE_INSTANCE = "i-0a1b2c3d4e5f60718"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
TOKEN = "demo-webhook-token-0123456789abcdef"  # noqa: S105 - a local stand-in's credential
ROUTING_KEY = "R0UT1NGKEYDEM0R0UT1NGKEYDEM0ABCD"
# The Sumo Logic scheduled search's webhook, with the custom payload the README documents.
SUMO_ALERT = {
    "search_name": "SSH brute force by source IP",
    "search_description": "More than 100 failed SSH logins from one source in 15 minutes",
    "severity": "high",
    "fire_time": "11/29/2026 09:15:04 AM UTC",
    "aggregate_results": [
        {"src_ip": "45.13.104.66", "dest_ip": "10.20.1.15", "dest_port": "22", "_count": 412},
        {"src_ip": "193.32.162.90", "dest_ip": "10.20.1.15", "dest_port": "22", "_count": 268},
    ],
}


def title(text: str) -> None:
    print(f"\n=== {text} " + "=" * max(0, 74 - len(text)))


def shown(text: str) -> str:
    """Slack's three escapes decoded, as a Slack client displays the text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def show_nacl(ec2: Any, acl_id: str) -> list[dict[str, Any]]:
    entries = ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]["Entries"]
    rows = sorted(entries, key=lambda e: (e["Egress"], e["RuleNumber"]))
    for e in rows:
        ports = e.get("PortRange")
        port_text = f"{ports['From']}-{ports['To']}" if ports else "all"
        proto = {"-1": "all", "6": "tcp", "17": "udp"}.get(str(e["Protocol"]), e["Protocol"])
        mine = "" if e["RuleNumber"] not in (5, 100, 110, 120) else "   <- yours"
        print(
            f"  {'egress ' if e['Egress'] else 'ingress'} rule {e['RuleNumber']:>5}  {e['RuleAction']:<5} "
            f"{e.get('CidrBlock') or e.get('Ipv6CidrBlock'):<18} {proto}/{port_text}{mine}"
        )
    return rows


def build_network(ec2: Any) -> tuple[str, str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    default = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["NetworkAcls"][
        0
    ]
    association = next(a for a in default["Associations"] if a["SubnetId"] == subnet)["NetworkAclAssociationId"]
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
    # The user's own rules. Rule 5 sits inside Riposte's managed range: Riposte must step around it.
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
    return vpc, acl, instance["Instances"][0]["InstanceId"]


def drain(sqs: Any, queue_url: str, queue_arn: str, expected: int) -> dict[str, Any]:
    """The queue's messages as the event Lambda's SQS poller hands the function."""
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
    print(f"  cdk-nag {plugin['pluginName']}: {plugin['conclusion']}, {len(plugin['violations'])} violations")
    for item in plugin["suppressedViolations"][:8]:
        print(f"    acknowledged {item['ruleName'][:60]}: {item['reason'][:70]}...")
    more = len(plugin["suppressedViolations"]) - 8
    if more > 0:
        print(f"    ... and {more} more acknowledgments, each with its reason")
    expect(plugin["conclusion"] == "success" and not plugin["violations"], "stacks pass cdk-nag")


def print_audit(dynamodb: Any, table: str, event_id: str, label: str) -> None:
    items = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
        ExpressionAttributeValues={":pk": {"S": f"event#{event_id}"}, ":audit": {"S": "audit#"}},
    )["Items"]
    decision = next((i for i in items if i["kind"]["S"] == "decision"), None)
    print(f"\n  {label}")
    if decision:
        print(_wrapped(f"decision: {decision['detail']['S']}", "    "))
    for item in items:
        if item["kind"]["S"] != "decision":
            target = f" {item['target']['S']}" if item["target"]["S"] else ""
            what = f"{item['name']['S']}{target}: {item['status']['S']}"
            print(_wrapped(f"{item['kind']['S']:<12} {what}  {item['detail']['S']}", "    "))


def _wrapped(text: str, indent: str) -> str:
    """Whole lines, wrapped rather than cut: an undo command or a mode must be readable to the end."""
    more = indent + "    "
    return textwrap.fill(text, width=116, initial_indent=indent, subsequent_indent=more, break_on_hyphens=False)


def main() -> int:  # noqa: PLR0912, PLR0915 - a script that tells one story from top to bottom
    failures: list[str] = []

    def expect(condition: bool, what: str) -> None:
        print(f"  [{'ok' if condition else 'FAILED'}] {what}")
        if not condition:
            failures.append(what)

    title("Stacks synthesized by `cdk synth` (cdk.out/)")
    show_synth(expect)

    pagerduty_reply = b'{"status": "success", "message": "Event processed", "dedup_key": "demo"}'
    with (
        moto_server() as endpoint,
        http_sink() as slack,
        http_sink(status=202, reply=pagerduty_reply, path="/v2/enqueue") as pagerduty,
    ):
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "demo",
                "AWS_SECRET_ACCESS_KEY": "demo",
                "AWS_DEFAULT_REGION": REGION,
                "POWERTOOLS_LOG_LEVEL": "ERROR",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "RIPOSTE_WEBHOOK_TOKEN": TOKEN,
            }
        )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        import boto3

        from riposte.core import config as cfg
        from riposte.engine import pipeline, setup
        from riposte.notifiers import NOTIFIERS
        from riposte.sources import SOURCES

        ec2, sqs, events = boto3.client("ec2"), boto3.client("sqs"), boto3.client("events")
        dynamodb, secrets, cloudtrail = (
            boto3.client("dynamodb"),
            boto3.client("secretsmanager"),
            boto3.client("cloudtrail"),
        )
        title(f"Local AWS (moto) at {endpoint}; Slack at {slack.url}; PagerDuty at {pagerduty.url}")

        vpc, acl, instance = build_network(ec2)
        boto3.client("s3").create_bucket(Bucket="demo-trail-logs")
        trail_arn = cloudtrail.create_trail(Name="demo-trail", S3BucketName="demo-trail-logs")["TrailARN"]
        cloudtrail.start_logging(Name="demo-trail")
        print(f"  VPC {vpc} (10.20.0.0/16), network ACL {acl}, instance {instance}, trail demo-trail (logging)")
        table = "riposte-demo-state"
        create_state_table(dynamodb, table)
        data = tomllib.loads((ROOT / "demo" / "riposte.demo.toml").read_text())
        data["nacl"]["network_acl_ids"] = [acl]
        config = setup.parse(data, "demo/riposte.demo.toml")
        print(f"  configuration demo/riposte.demo.toml: mode {config.mode} (the demo acts, against this local AWS)")
        for name, notifier in NOTIFIERS:
            value = slack.url if name == "slack" else json.dumps({"routing_key": ROUTING_KEY, "url": pagerduty.url})
            secrets.create_secret(
                Name=config.secret_name(notifier.secret.field, notifier.secret.default), SecretString=value
            )

        queue_url = sqs.create_queue(QueueName="riposte-demo-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for source in ("guardduty", "cloudtrail"):  # the rules the stack deploys, one per pattern
            for index, pattern in enumerate(SOURCES.get(source).event_patterns):
                events.put_rule(Name=f"riposte-{source}-{index}", EventPattern=json.dumps(pattern))
                events.put_targets(Rule=f"riposte-{source}-{index}", Targets=[{"Id": "queue", "Arn": queue_arn}])

        title(f"Network ACL {acl} before")
        before = show_nacl(ec2, acl)

        os.environ[cfg.ENV_VAR] = config.to_json()
        os.environ["RIPOSTE_TABLE"] = table
        from riposte.handlers import responder

        # --- 1. GuardDuty --------------------------------------------------------------------------------
        title("1. GuardDuty findings -> EventBridge -> SQS -> responder")
        for name in SAMPLES:
            finding = json.loads((EVENTS / "guardduty" / name).read_text().replace(SAMPLE_INSTANCE, instance))
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
        events.put_events(  # another service's event: the rules must not match it
            Entries=[{"Source": "aws.ec2", "DetailType": "EC2 Instance State-change Notification", "Detail": "{}"}]
        )
        lambda_event = drain(sqs, queue_url, queue_arn, len(SAMPLES))
        expect(len(lambda_event["Records"]) == len(SAMPLES), f"the rules routed exactly the {len(SAMPLES)} findings")
        response = responder.handler(lambda_event, LambdaContext(aws_request_id=str(uuid.uuid4())))
        expect(response.get("batchItemFailures") == [], f"no failed records ({response})")
        for record in lambda_event["Records"]:
            event = pipeline.plan(json.loads(record["body"]), config).event
            print_audit(dynamodb, table, event.id, event.type)
        denied = {e.get("CidrBlock"): e["RuleNumber"] for e in show_nacl_quiet(ec2, acl) if e["RuleAction"] == "deny"}
        expect("91.240.118.77/32" in denied, "C&C address 91.240.118.77 blocked")
        expect("45.13.105.9/32" in denied, "Bitcoin-pool address 45.13.105.9 blocked")
        expect("34.120.5.44/32" not in denied, "allowlisted partner 34.120.5.44 refused, not blocked")
        expect("185.156.73.23/32" not in denied, "low-score SSH brute force (score 25) not blocked")
        interfaces = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [instance]}])
        quarantined = [g["GroupName"] for eni in interfaces["NetworkInterfaces"] for g in eni["Groups"]]
        print(f"\n  instance {instance}: its network interface's security groups are now {quarantined}")
        expect(quarantined == ["riposte-quarantine"], "the compromised instance is isolated (quarantine group only)")

        # --- 2. Webhook ------------------------------------------------------------------------------------
        title("2. A Sumo Logic alert over HTTP at the webhook front door")
        from riposte.serve import serve

        accepted: list[str] = []

        def carry_out(events_in: Any) -> None:
            for event in events_in:
                accepted.append(event.id)
                responder.process(event)

        server = serve(config, "127.0.0.1", 0, carry_out)
        import threading

        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            request = urllib.request.Request(  # noqa: S310 - our own server on 127.0.0.1
                f"{server.url}/webhooks/sumologic",
                data=json.dumps(SUMO_ALERT).encode(),
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
                answer = json.loads(reply.read())
                print(f"  POST /webhooks/sumologic -> {reply.status} {json.dumps(answer)[:150]}")
                expect(reply.status == 202, "the alert was accepted (202)")
            forged = urllib.request.Request(  # noqa: S310
                f"{server.url}/webhooks/sumologic",
                data=json.dumps(SUMO_ALERT).encode(),
                headers={"Authorization": "Bearer wrong"},
            )
            try:
                urllib.request.urlopen(forged, timeout=30)  # noqa: S310
                status = 200
            except urllib.error.HTTPError as error:
                status = error.code
            print(f"  the same alert with a wrong token -> {status}")
            expect(status == 401, "a request without the right token is refused (401), nothing queued")
        finally:
            server.shutdown()
            server.server_close()
        for event_id in accepted:
            print_audit(dynamodb, table, event_id, event_id)
        denied = {e.get("CidrBlock"): e["RuleNumber"] for e in show_nacl_quiet(ec2, acl) if e["RuleAction"] == "deny"}
        expect({"45.13.104.66/32", "193.32.162.90/32"} <= set(denied), "both alerting addresses blocked")

        # --- 3. A full range -----------------------------------------------------------------------------
        title("3. The managed range fills up: the least valuable block makes way")
        for n, ip in enumerate(["80.94.95.11", "80.94.95.12"]):
            probe = json.loads(
                (EVENTS / "guardduty" / "ssh_bruteforce_inbound.json").read_text().replace(SAMPLE_INSTANCE, instance)
            )
            probe["detail"]["id"] = f"f{n:031x}"
            probe["detail"]["severity"] = 8.5 + n  # 85, then 95: worth more than the webhook's blocks
            probe["detail"]["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"] = ip
            probe["detail"]["description"] = f"{ip} is performing SSH brute force attacks against {instance}."
            probe["detail"]["title"] = probe["detail"]["description"]
            events.put_events(
                Entries=[
                    {
                        "Source": probe["source"],
                        "DetailType": probe["detail-type"],
                        "Detail": json.dumps(probe["detail"]),
                    }
                ]
            )
        full_event = drain(sqs, queue_url, queue_arn, 2)
        responder.handler(full_event, LambdaContext(aws_request_id=str(uuid.uuid4())))
        evictions = dynamodb.scan(
            TableName=table,
            FilterExpression="contains(#d, :evicting)",
            ExpressionAttributeNames={"#d": "detail"},
            ExpressionAttributeValues={":evicting": {"S": "evicting"}},
        )["Items"]
        expect(len(evictions) == 1, "one block made way for a more valuable one (evicted in place, audited)")
        for record in full_event["Records"]:
            event = pipeline.plan(json.loads(record["body"]), config).event
            print_audit(dynamodb, table, event.id, f"{event.type} from {event.entities.ips[0]}")
        after_full = show_nacl(ec2, acl)
        denied = {e.get("CidrBlock"): e["RuleNumber"] for e in after_full if e["RuleAction"] == "deny"}
        expect({"80.94.95.11/32", "80.94.95.12/32"} <= set(denied), "both new attackers blocked in a full range")
        managed = [e for e in after_full if not e["Egress"] and e["RuleAction"] == "deny" and e["RuleNumber"] != 5]
        low, high = config.nacl.rule_range
        expect(all(low <= e["RuleNumber"] <= high for e in managed), f"every block stays inside {low}-{high}")
        expect(all(e in after_full for e in before), "every rule of yours is untouched (rule 5 stepped around)")

        # --- 4. CloudTrail: a stopped trail is healed ---------------------------------------------------
        title("4. An attacker stops the trail; Riposte restarts it")
        cloudtrail.stop_logging(Name="demo-trail")
        print(f"  trail logging: {cloudtrail.get_trail_status(Name='demo-trail')['IsLogging']}")
        case = json.loads((EVENTS / "cloudtrail" / "cloudtrail_stop_logging.cases").read_text())[0]["event"]
        record = json.loads(json.dumps(case["detail"]).replace("111122223333", ACCOUNT).replace("eu-west-1", REGION))
        record["requestParameters"]["name"] = trail_arn
        events.put_events(
            Entries=[{"Source": case["source"], "DetailType": case["detail-type"], "Detail": json.dumps(record)}]
        )
        trail_event = drain(sqs, queue_url, queue_arn, 1)
        expect(len(trail_event["Records"]) == 1, "the CloudTrail rule routed the StopLogging call")
        responder.handler(trail_event, LambdaContext(aws_request_id=str(uuid.uuid4())))
        print_audit(dynamodb, table, f"cloudtrail:{record['eventID']}", "cloudtrail_stop_logging")
        logging = cloudtrail.get_trail_status(Name="demo-trail")["IsLogging"]
        print(f"  trail logging: {logging}")
        expect(logging, "the trail logs again (heal: trail_logging)")

        # --- messages ---------------------------------------------------------------------------------------
        title("Slack messages received")
        for number, request_seen in enumerate(slack.requests, 1):
            blocks = request_seen["json"]["blocks"]
            print(f"  [{number}] {shown(blocks[0]['text']['text'])}")
        expect(len(slack.requests) >= 6, f"Slack heard of every decision worth it ({len(slack.requests)} messages)")
        title("PagerDuty events received")
        for number, request_seen in enumerate(pagerduty.requests, 1):
            body = request_seen["json"]
            print(
                f"  [{number}] {body['event_action']} {body['payload']['severity']}: {body['payload']['summary'][:90]}"
            )
            print(f"      dedup_key {body['dedup_key']}")
        expect(any(r["json"]["event_action"] == "trigger" for r in pagerduty.requests), "PagerDuty incidents opened")
        expect(
            all(r["json"]["routing_key"] == ROUTING_KEY for r in pagerduty.requests),
            "with the routing key from the secret",
        )

        # --- 5. Redelivery ----------------------------------------------------------------------------------
        title("5. Redelivery of the same messages (SQS at-least-once)")
        sent = (len(slack.requests), len(pagerduty.requests))
        entries = len(show_nacl_quiet(ec2, acl))
        again = responder.handler(lambda_event, LambdaContext(aws_request_id=str(uuid.uuid4())))
        expect(again.get("batchItemFailures") == [], "no failed records")
        expect(len(show_nacl_quiet(ec2, acl)) == entries, "no new NACL entry")
        expect((len(slack.requests), len(pagerduty.requests)) == sent, "no second Slack message, no second page")

        # --- 6. Expiry ----------------------------------------------------------------------------------------
        title("6. A day later: the maintenance job expires the blocks it owns")
        from riposte.handlers import maintenance as maintenance_handler

        later = datetime.now(UTC) + timedelta(hours=25)
        paged_before = len(pagerduty.requests)
        rt, targets = maintenance_handler.runtime()
        summary = maintenance_handler.maintain(rt, targets, later, LambdaContext(function_name="riposte-maintenance"))
        print(f"  removed {len(summary['removed'])} expired blocks; drift found: {len(summary['drift'])}")
        for finding in summary["drift"]:
            print(_wrapped(f"drift: {json.dumps(finding)}", "    "))
        resolves = [r["json"] for r in pagerduty.requests[paged_before:] if r["json"]["event_action"] == "resolve"]
        for body in resolves:
            print(f"  PagerDuty resolve {body['dedup_key']}")
        expect(len(resolves) >= 4, "the incidents of the expired blocks are resolved in PagerDuty")
        after_expiry = show_nacl(ec2, acl)
        left = [e for e in after_expiry if e["RuleAction"] == "deny" and not e["Egress"] and e["RuleNumber"] != 5]
        expect(summary["removed"] and not left, "every expired block Riposte owned is gone")
        expect(all(e in after_expiry for e in before), "and every rule of yours is still there")

    title("Result")
    if failures:
        print(f"  {len(failures)} expectation(s) failed: {failures}")
        return 1
    print("  all expectations met")
    return 0


def show_nacl_quiet(ec2: Any, acl_id: str) -> list[dict[str, Any]]:
    return list(ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]["Entries"])


if __name__ == "__main__":
    sys.exit(main())
