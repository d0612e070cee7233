"""The one error the webhook front door raises for a request it refuses."""

from __future__ import annotations

from riposte.sources.base import InputError


class WebhookError(InputError):
    """A refused request: ``status`` is the HTTP status, ``code`` a stable machine word, the message says why in
    words the sender can act on. An ``InputError``, so the CLI prints it like any other rejected input."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
