"""Riposte: normalize security events, score them, decide, act safely, and tell people.

The package is split so that everything that decides is pure and everything that touches the world is thin:

- ``sources``   raw events (GuardDuty, later CloudTrail, flow logs, webhooks) -> ``SecurityEvent``
- ``scoring``   ``SecurityEvent`` -> ``Score`` (0-100 with reasons)
- ``policy``    scored event -> planned actions and notifications
- ``guard``     refuses protected targets (private, loopback, link-local, allowlisted) before anything runs
- ``actions``   registry of remediations; each declares its IAM permissions and honours dry-run
- ``notifiers`` registry of outputs (Slack first)
- ``runner``    carries a plan out through ports (``adapters`` holds the boto3 implementations)
- ``handlers``  Lambda entry points: decode, call the core, report
"""

__version__ = "0.1.0"
