"""The Riposte stack, composed of one construct per concern:

    GuardDuty detector -> Ingest (EventBridge rules -> SQS + DLQ) -> Responder (Lambda) -> NACLs, StateTable,
    NotifierSecrets (Slack, PagerDuty), all encrypted by EncryptionKey; Alarms watch what must not go unnoticed.
    Maintenance (a schedule -> Lambda) expires blocks and reconciles their records with the NACLs and WAF sets.

Runtime code: ``lambdas/riposte`` (handler names in ``riposte.handlers.environment``). Every acknowledgment of
a cdk-nag finding says why.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_guardduty as guardduty
from constructs import Construct

from riposte.core.config import Config
from stacks.constructs.alarms import Alarms
from stacks.constructs.ingest import Ingest
from stacks.constructs.key import EncryptionKey
from stacks.constructs.maintenance import Maintenance
from stacks.constructs.responder import Responder
from stacks.constructs.secrets import NotifierSecrets
from stacks.constructs.state import StateTable


class RiposteStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        if config.guardduty.create_detector:
            guardduty.CfnDetector(self, "Detector", enable=True, finding_publishing_frequency="FIFTEEN_MINUTES")

        self.key = EncryptionKey(self, "Encryption").key
        self.ingest = Ingest(self, "Ingest", key=self.key)
        self.state = StateTable(self, "StateTable", key=self.key)
        self.secrets = NotifierSecrets(self, "Secrets", config=config, key=self.key)
        self.responder = Responder(
            self,
            "Responder",
            config=config,
            key=self.key,
            queue=self.ingest.queue,
            table=self.state.table,
            secrets=list(self.secrets.secrets.values()),
        )
        self.maintenance = Maintenance(self, "Maintenance", config=config, key=self.key, table=self.state.table)
        self.alarms = Alarms(self, "Alarms", config=config, key=self.key, dlqs=[self.ingest.dlq])
        self.maintenance.notify(self.alarms.topic)
