"""What the actions acting in an event's account share: reaching it, saying what dry-run and approve mean, and
matching principals against patterns."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from riposte.actions.accounts import AccountPorts, MemberAccessError, NoAccountAccessError
from riposte.actions.base import ActionContext
from riposte.core.config import Mode
from riposte.core.model import Outcome, Status


def mode_note(ctx: ActionContext, action: str) -> str:
    """Why nothing changed: dry-run, or approve mode (which acts as dry-run until approvals exist)."""
    if ctx.config.mode_for(action) is Mode.APPROVE:
        return " (approve mode: waiting for a person's approval, nothing changed)"
    return " (dry run)"


def reach(
    action: str,
    target: str,
    ctx: ActionContext,
    intent: str,
    *,
    account: str | None = None,
    region: str | None = None,
) -> AccountPorts | Outcome:
    """The ports of the event's account and region (or those given), or the outcome that says why Riposte
    cannot act there.

    A run without AWS access (unit tests of the registry, ``riposte score``-like runs) still says in dry-run
    what it would do; an account without the member role is a clear failure, retried only when a retry can
    help (throttling), never a crash.
    """
    try:
        return ctx.aws(account, region)
    except MemberAccessError as error:
        return Outcome(action, target, Status.FAILED, str(error), retryable=error.retryable)
    except NoAccountAccessError as error:
        if ctx.dry_run_for(action):
            return Outcome(action, target, Status.DRY_RUN, f"would {intent}{mode_note(ctx, action)}; {error}")
        return Outcome(action, target, Status.FAILED, f"cannot {intent}: {error}")


def matching(values: Iterable[str], patterns: Iterable[str]) -> str | None:
    """The first pattern (shell-style, case-sensitive like IAM names) matching any of ``values``."""
    candidates = [v for v in values if v]
    for pattern in patterns:
        if any(fnmatchcase(value, pattern) for value in candidates):
            return pattern
    return None
