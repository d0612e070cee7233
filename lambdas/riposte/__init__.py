"""Riposte: normalize security events, score them, decide, act safely, and tell people.

The package is split so that everything that decides is pure and everything that touches the world is thin:

- ``core``      the values (``model``), configuration, registries, ``guard`` (refuses addresses that are not
                globally reachable per the IANA special-purpose registries, embedded IPv4 included,
                non-literals and the allowlist), ``scoring`` (0-100 with reasons), the NACL planner, ports
- ``engine``    ``policy`` (scored event -> plan), ``pipeline``, ``context`` (state that moves scores),
                ``runner`` (plan -> outcomes through ports), ``setup`` (configuration checked by the registries)
- ``sources``   raw events (GuardDuty, CloudTrail, flow logs, webhooks) -> ``SecurityEvent``; ``envelopes``
- ``actions``   registry of remediations; each declares its IAM permissions and honours dry-run
- ``notifiers`` registry of outputs (Slack, PagerDuty); each declares its route and secret
- ``adapters``  implementations of the ports: in memory, HTTP (urllib3), AWS (boto3)
- ``handlers``  Lambda entry points: decode, call the core, report
"""

__version__ = "0.1.0"
