"""SMETS1 devices: first-generation meters that speak a vendor protocol, not GBCS.

The DCC's SMETS1 service provider (`hil.dcc.smets1`) translates service
requests into commands of the vendor protocol (`protocol`, documented in
docs/smets1.md); the communications hub (`hub.Smets1Hub`) answers them on a
HAN link for the meters and PPMID it hosts (`meters`). What differs between
device models (time base, money resolution, limits, delays, quirks) is data:
a `profile.Smets1Profile`, read from `hil/fixtures/smets1/*.yaml`.
"""

from emulator.devices.smets1.profile import Behaviour, DelaySpec, Smets1Profile

__all__ = ["Behaviour", "DelaySpec", "Smets1Profile"]
