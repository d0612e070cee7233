"""The Riposte stack, composed of one construct per concern:

    GuardDuty detector, CloudTrail Trail -> Ingest (EventBridge rules -> SQS + DLQ) -> Responder (Lambda) -> NACLs,
    StateTable, NotifierSecrets (Slack, PagerDuty), all encrypted by EncryptionKey (the trail has a key of its own);
    Alarms watch what must not go unnoticed.
    Webhooks (when ``webhooks.enabled``): API Gateway + WAF -> webhook Lambda -> its own queue + DLQ.
    FlowLogs (when ``[flowlogs]`` names VPCs): flow logs -> log group -> subscription (or Kinesis) -> flow-log Lambda.
    Maintenance (a schedule -> Lambda) expires blocks and reconciles their records with the NACLs and WAF sets.

Runtime code: ``lambdas/riposte`` (handler names in ``riposte.handlers.environment``). Every acknowledgment of
a cdk-nag finding says why.
"""

from __future__ import annotations

from aws_cdk import Fn, Stack
from aws_cdk import aws_guardduty as guardduty
from aws_cdk.aws_sqs import IQueue
from constructs import Construct

from riposte.core.config import Config
from riposte.handlers import environment
from stacks.constructs.alarms import Alarms
from stacks.constructs.flowlogs import FlowLogs
from stacks.constructs.forwarding import CentralBusPolicy
from stacks.constructs.ingest import Ingest
from stacks.constructs.key import EncryptionKey
from stacks.constructs.maintenance import Maintenance
from stacks.constructs.responder import Responder
from stacks.constructs.secrets import NotifierSecrets
from stacks.constructs.state import StateTable
from stacks.constructs.trail import Trail
from stacks.constructs.webhooks import Webhooks


class RiposteStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        if config.guardduty.create_detector:
            guardduty.CfnDetector(self, "Detector", enable=True, finding_publishing_frequency="FIFTEEN_MINUTES")
        # EventBridge sees CloudTrail's API events only while a trail logs them: ours, or an existing one.
        self.trail = Trail(self, "Trail", config=config) if config.cloudtrail.create_trail else None

        self.key = EncryptionKey(self, "Encryption").key
        self.ingest = Ingest(self, "Ingest", key=self.key)
        # Member accounts forward their CloudTrail events here (stacks/member_stack.py).
        self.bus_policy = (
            CentralBusPolicy(self, "BusPolicy", config=config) if config.organization.member_accounts else None
        )
        self.state = StateTable(self, "StateTable", key=self.key)
        self.secrets = NotifierSecrets(self, "Secrets", config=config, key=self.key)
        # A public endpoint: deployed only when asked for. Its queue is the responder's second source.
        self.webhooks = Webhooks(self, "Webhooks", config=config, key=self.key) if config.webhooks.enabled else None
        self.responder = Responder(
            self,
            "Responder",
            config=config,
            key=self.key,
            queue=self.ingest.queue,
            table=self.state.table,
            secrets=list(self.secrets.secrets.values()),
            webhook_queue=self.webhooks.queue if self.webhooks else None,
        )
        # VPC flow logs -> spikes, scans and brute force: deployed only when [flowlogs] names what to log.
        self.flowlogs = (
            FlowLogs(
                self,
                "FlowLogs",
                config=config,
                key=self.key,
                table=self.state.table,
                secrets=list(self.secrets.secrets.values()),
            )
            if config.flowlogs.enabled
            else None
        )
        self.maintenance = Maintenance(
            self,
            "Maintenance",
            config=config,
            key=self.key,
            table=self.state.table,
            secrets=list(self.secrets.secrets.values()),
        )
        # CloudTrail records Riposte's own calls too: the responder must know its roles to ignore them.
        own_roles = [self.responder.role.role_arn, self.maintenance.role.role_arn]
        if self.flowlogs:
            own_roles.append(self.flowlogs.role.role_arn)
        self.responder.function.add_environment(environment.SELF_ARNS, Fn.join(",", own_roles))
        dlqs: dict[str, IQueue] = {"events": self.ingest.dlq}
        if self.webhooks:
            dlqs["webhook alerts"] = self.webhooks.dlq
        if self.flowlogs:
            dlqs["flow-log payloads"] = self.flowlogs.dlq
        self.alarms = Alarms(self, "Alarms", config=config, key=self.key, dlqs=dlqs)
        self.maintenance.notify(self.alarms.topic)
        if self.flowlogs:
            self.flowlogs.notify(self.alarms.topic)
