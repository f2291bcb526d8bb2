"""Fault injection for labs: link, device, message and alert faults, deterministic by seed.

    from hil.faults import FaultInjector, FaultSpec, FaultSpecError

docs/faults.md describes every kind; `spec` holds the models, `manipulate` the
pure byte and message manipulators, `injector` what puts them on a lab.
"""

from hil.faults.injector import FaultHandle, FaultInjector, SkewedClock
from hil.faults.spec import KINDS, FaultSpec, FaultSpecError, parse_duration, parse_fault

__all__ = [
    "KINDS",
    "FaultHandle",
    "FaultInjector",
    "FaultSpec",
    "FaultSpecError",
    "SkewedClock",
    "parse_duration",
    "parse_fault",
]
