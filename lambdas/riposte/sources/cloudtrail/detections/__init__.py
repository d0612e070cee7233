"""The CloudTrail detection catalogue: one module per area, each detection registered by id in ``DETECTIONS``."""

from __future__ import annotations

from riposte.sources.cloudtrail.detections.base import DETECTIONS, Context, Detection, Hit

__all__ = ["DETECTIONS", "Context", "Detection", "Hit"]
