"""CloudTrail: the source (``source.CloudTrailSource``, registered here), its detection catalogue
(``detections``), the EventBridge patterns generated from it (``patterns``) and the catalogue's reference
(``catalogue_doc``)."""

from __future__ import annotations

from riposte.sources.cloudtrail.source import CloudTrailSource, records

__all__ = ["CloudTrailSource", "records"]
