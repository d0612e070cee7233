"""VPC flow-log spike response, the pure core: parse records, tally per window in bounded memory, merge with
the state other invocations share, and detect volume spikes, port scans and brute force.

Standard library only, plus the central guard's address table (``riposte.core.guard``, itself standard
library only), so that "internal" here is exactly what the guard refuses; the handler, the DynamoDB state
adapter and the mapping to security events live outside. Entry point: ``analyze``.
"""

from riposte.flowlogs.detect import Analysis, Offender, Thresholds, analyze, by_key, detect
from riposte.flowlogs.parse import (
    ADMIN_PORTS,
    DEFAULT,
    DEFAULT_FORMAT,
    FIELDS,
    Counters,
    FlowFormat,
    Skipped,
    decode,
    parse_format,
)
from riposte.flowlogs.state import Baseline, FlowState, MemoryFlowState, next_baseline
from riposte.flowlogs.window import Caps, Networks, Population, SourceTally, WindowTally

__all__ = [
    "ADMIN_PORTS",
    "DEFAULT",
    "DEFAULT_FORMAT",
    "FIELDS",
    "Analysis",
    "Baseline",
    "Caps",
    "Counters",
    "FlowFormat",
    "FlowState",
    "MemoryFlowState",
    "Networks",
    "Offender",
    "Population",
    "Skipped",
    "SourceTally",
    "Thresholds",
    "WindowTally",
    "analyze",
    "by_key",
    "decode",
    "detect",
    "next_baseline",
    "parse_format",
]
