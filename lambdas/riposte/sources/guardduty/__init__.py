"""GuardDuty findings, every family and shape: ``wire`` models the finding as it arrives (camelCase or
PascalCase), ``actions``, ``resources`` and ``sequence`` read it into parties with roles and evidence, and
``source`` registers the source that turns it into a ``SecurityEvent``."""
