"""The queues around Riposte's functions, made one way: encrypted with Riposte's key, TLS only, a dead-letter
queue that keeps what failed for good, and event queues redriven to it."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.names import FUNCTION_TIMEOUT, MAX_RECEIVE_COUNT


def dead_letter_queue(scope: Construct, construct_id: str, key: kms.IKey) -> sqs.Queue:
    """Where what failed for good is kept, 14 days (SQS's longest), for a person or a redrive."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )


def event_queue(scope: Construct, construct_id: str, key: kms.IKey, dlq: sqs.IQueue) -> sqs.Queue:
    """A queue of events for the responder, redriven to ``dlq`` after ``MAX_RECEIVE_COUNT`` receives."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=Duration.days(4),
        # AWS guidance for Lambda consumers: at least six times the function timeout.
        visibility_timeout=Duration.seconds(FUNCTION_TIMEOUT.to_seconds() * 6),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT),
    )
