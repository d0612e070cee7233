"""Reading resource and identity policy documents the way AWS evaluates them, not as text.

``Statement``, ``Action``, ``Resource`` and ``Principal.AWS`` may each be one value or a list, ``Principal`` may
be ``"*"``, and whitespace varies; substring matching on the JSON (as some public rules do) misses compact
documents. Actions are case-insensitive in IAM.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from riposte.core.guard import world_wide
from riposte.sources.cloudtrail.record import account_of, as_list

# Condition keys that pin a "*" principal to known callers (any operator, ForAnyValue:/ForAllValues: included).
RESTRICTING_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:SourceIp",
        "aws:SourceVpce",
        "aws:SourceVpc",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceOrgID",
        "aws:userid",
        "kms:CallerAccount",
    )
)


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def allows(statement: Mapping[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


def actions(statement: Mapping[str, Any]) -> list[str]:
    return [a.lower() for a in as_list(statement.get("Action")) if isinstance(a, str)]


def aws_principals(statement: Mapping[str, Any]) -> list[str]:
    """The statement's AWS principals; ``["*"]`` for ``"Principal": "*"``. Service and federated principals
    are left out: they are AWS services and identity providers, not accounts."""
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        return [p for p in as_list(principal.get("AWS")) if isinstance(p, str)]
    return []


def condition_keys(statement: Mapping[str, Any]) -> set[str]:
    condition = statement.get("Condition")
    keys: set[str] = set()
    for clause in condition.values() if isinstance(condition, Mapping) else ():
        if isinstance(clause, Mapping):
            keys.update(str(k).lower() for k in clause)
    return keys


def restricted(statement: Mapping[str, Any], keys: frozenset[str] = RESTRICTING_KEYS) -> bool:
    return bool(condition_keys(statement) & keys)


# Restricting keys whose values are opaque identifiers (an endpoint, a VPC, an organization, an account): a wildcard
# in one ("vpce-*", "o-*") matches anybody's, so it pins nothing.
_OPAQUE_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:SourceVpce",
        "aws:SourceVpc",
        "aws:PrincipalOrgID",
        "aws:PrincipalAccount",
        "aws:SourceAccount",
        "aws:SourceOrgID",
        "kms:CallerAccount",
    )
)
_SOURCE_IP = "aws:sourceip"


def _pins(operator: str, key: str, values: list[Any]) -> bool:
    """Whether one condition clause limits who may call: not when it negates ("everyone but": StringNotEquals,
    NotIpAddress), holds only when the key is present (Null) or also when it is absent (...IfExists, true for a
    call from the internet, which carries no aws:SourceVpce), or when its values match anyone (0.0.0.0/0 or any
    prefix as wide, a "*" pattern, a wildcard in an endpoint or account id)."""
    base = operator.lower().rsplit(":", 1)[-1]
    texts = [str(v) for v in values if isinstance(v, str | int)]
    if not texts or "not" in base or base == "null" or base.endswith("ifexists"):
        return False
    if key == _SOURCE_IP:
        return not any(world_wide(v) for v in texts)
    if "like" not in base:
        return True
    return not any(_matches_anyone(key, v) for v in texts)


def _matches_anyone(key: str, pattern: str) -> bool:
    wildcard = "*" in pattern or "?" in pattern
    return wildcard and (set(pattern) <= {"*", "?"} or key in _OPAQUE_KEYS)


def _pinned(statement: Mapping[str, Any]) -> bool:
    """A condition on a restricting key (source VPC or endpoint, organization, account, ARN, address) that really
    limits the callers; clauses are ANDed, so one is enough."""
    condition = statement.get("Condition")
    for operator, clause in condition.items() if isinstance(condition, Mapping) else ():
        for key, value in clause.items() if isinstance(clause, Mapping) else ():
            lowered = str(key).lower()
            if lowered in RESTRICTING_KEYS and _pins(str(operator), lowered, as_list(value)):
                return True
    return False


def anyone(statement: Mapping[str, Any]) -> bool:
    """Allows anybody: a ``*`` principal, or ``NotPrincipal`` (everyone but those named), with no condition that
    really pins the caller."""
    if not allows(statement):
        return False
    everyone = "*" in aws_principals(statement) or "NotPrincipal" in statement
    return everyone and not _pinned(statement)


def is_public(statement: Mapping[str, Any]) -> bool:
    """Allows anyone at all (``anyone``): what makes a bucket, repository, key or function policy public."""
    return anyone(statement)


def foreign_accounts(document: Mapping[str, Any], trusted: Callable[[str], bool]) -> list[str]:
    """Accounts named in Allow statements (ARNs or bare ids) that ``trusted`` does not accept, in order."""
    found: list[str] = []
    for statement in statements(document):
        if not allows(statement):
            continue
        for principal in aws_principals(statement):
            account = account_of(principal)
            if account and not trusted(account) and account not in found:
                found.append(account)
    return found


def grants(statement: Mapping[str, Any], *wanted: str) -> bool:
    """True when the statement covers any of the ``wanted`` actions, with IAM's wildcards (``s3:Put*``, ``*``)
    and ``NotAction`` (everything but) taken into account; case-insensitive like IAM."""
    wanted_lower = [w.lower() for w in wanted]
    if "NotAction" in statement:
        excluded = [a.lower() for a in as_list(statement.get("NotAction")) if isinstance(a, str)]
        return any(not any(fnmatchcase(w, e) for e in excluded) for w in wanted_lower)
    return any(fnmatchcase(w, granted) for granted in actions(statement) for w in wanted_lower)


def grants_admin(document: Mapping[str, Any]) -> bool:
    """Allows every action (``*``, ``*:*``, or any ``NotAction``) on every resource."""
    for statement in statements(document):
        if not allows(statement):
            continue
        everything = bool({"*", "*:*"} & set(actions(statement))) or "NotAction" in statement
        if everything and "*" in as_list(statement.get("Resource")):
            return True
    return False
