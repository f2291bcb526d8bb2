"""Values GBCS fixes in a command, laid over the generated (neutral) templates.

The templates (`dlms.py`, `gbz.py`) are generated with neutral values: zeros where
the caller's data goes. Some positions are not the caller's data but part of the
command as GBCS defines it: which register a charge is priced against, the
identifiers of a price matrix, the collection rules of a payment mode, the scale
of a block threshold. A device checks them; zeros there make a command a real
meter would refuse. This table gives them, keyed by the COSEM attribute (class,
logical name, attribute) for DLMS, so every use case that sets that attribute
gets them, and by component and field for GBZ.

Callers' parameters and `values` overrides are applied after these, so they can
still be changed on purpose (a test that sends a wrong reference).
"""

from __future__ import annotations

from typing import Any

from emulator.gbcs.dlms.apdu import Obis

#: Price matrix identifiers of the electricity charges: TOU prices 0x01..0x30, then
#: block prices, high nibble the block (0xA = block 1 .. 0xD = block 4), low nibble
#: the TOU-block tier (1..8).
TOU_IDS = list(range(0x01, 0x31))
BLOCK_IDS = [(0x9 + block) << 4 | tier for block in range(1, 5) for tier in range(1, 9)]


def _charge_reference(obis: str) -> list[Any]:
    """Charge `unit_charge` reference: register class 3, its value attribute 2."""
    return [3, Obis(obis), 2]


#: (class, logical name, attribute) -> {path inside the attribute's value: value}.
DLMS_CONSTANTS: dict[tuple[int, str, int], dict[str, Any]] = {
    # Primary element TOU/block charge: energy in kWh (commodity scale 3), priced
    # against the import active energy register, 48 TOU + 32 block prices.
    (113, "0-0:19.20.0.255", 6): {
        "0.0": 3,
        "1": _charge_reference("1-0:1.8.0.255"),
        "2": [[bytes((i,)), 0] for i in TOU_IDS + BLOCK_IDS],
    },
    # The debt recovery rate cap applies per week (DUIS carries the cap, not its period).
    (9000, "0-0:94.44.128.13", 4): {"": 7 * 86400},
    # Secondary element (twin) TOU charge: the secondary import register, 4 prices.
    (113, "0-0:19.20.5.255", 6): {
        "0.0": 3,
        "1": _charge_reference("1-20:1.8.0.255"),
        "2": [[bytes((i,)), 0] for i in range(1, 5)],
    },
}


_CREDIT = {i: Obis(f"0-0:19.10.{i}.255") for i in range(3)}
_CHARGE = {i: Obis(f"0-0:19.20.{i}.255") for i in range(6)}
_COLLECT_ALL = b"\xe0"  # collect when disabled, in load limiting and in friendly credit
_COLLECT_NOT_DISABLED = b"\xc0"


def credit_charge_rows(
    *,
    prepayment: bool,
    suspend_disabled: bool = False,
    suspend_emergency: bool = False,
    twin: bool = False,
) -> list[list[Any]]:
    """The account's credit-charge configuration (attribute 11) of a payment mode: rows
    of (credit, charge, collection bits), as the reference 1.6 commands set them.

    Credits 0-0:19.10.x, charges 0-0:19.20.x (0 TOU/block, 1 and 2 time debts, 3
    payment debt, 4 standing charge, 5 secondary element). Suspending debt while
    disabled clears the "collect when disabled" bit of the time debts; suspending it
    in emergency credit adds the rows of credit 2.
    """

    def row(credit: int, charge: int, debt: bool = False) -> list[Any]:
        bits = _COLLECT_NOT_DISABLED if debt and suspend_disabled else _COLLECT_ALL
        return [_CREDIT[credit], _CHARGE[charge], bits]

    rows = [row(0, 0), row(0, 4)]
    if prepayment:
        rows += [row(0, 1, True), row(0, 2, True), row(0, 3), row(1, 3), row(1, 0), row(1, 4)]
        rows += [row(1, 1, True), row(1, 2, True)]
        if suspend_emergency:
            rows += [row(2, 4), row(2, 1), row(2, 2)]
    if twin:
        rows += [row(0, 5)] + ([row(1, 5)] if prepayment else [])
    return rows


#: Per use case: {spec index path: value} for what depends on the use case, not the
#: attribute: the credit-charge configuration of each payment mode (`hil.duis.bodies`
#: varies it by the suspend-debt flags and the meter's elements).
USE_CASE_CONSTANTS: dict[str, dict[str, Any]] = {
    "ECS02": {"1": credit_charge_rows(prepayment=False)},
    # Without a DUIS body saying otherwise, debt collection is suspended both while
    # disabled and in emergency credit (as the reference's immediate ECS03).
    "ECS03": {
        "2": credit_charge_rows(prepayment=True, suspend_disabled=True, suspend_emergency=True)
    },
}

#: GBZ use case -> {component (ZCL command) name: {field: value}}.
GBZ_CONSTANTS: dict[str, dict[str, dict[str, Any]]] = {
    # Block thresholds in kWh from the Wh register: x 1 / 1000.
    "GCS01a": {
        "publish_tariff_information": {
            "block_threshold_multiplier": 1,
            "block_threshold_divisor": 1000,
        }
    },
    "GCS01b": {
        "publish_tariff_information": {
            "block_threshold_multiplier": 1,
            "block_threshold_divisor": 1000,
        }
    },
    # Credit mode: no cut-off (-1 = none).
    "GCS02": {"change_payment_mode": {"cut_off_value": -1}},
    # Integer uncontrolled-flow threshold: no scaling.
    "GCS24": {"set_uncontrolled_flow_threshold": {"multiplier": 1, "divisor": 1}},
    "GCS24a": {"set_uncontrolled_flow_threshold": {"multiplier": 1}},
    # Network data: the sample set GBCS names for it, its interval and depth.
    "GCS18": {"get_sampled_data": {"sample_id": 2}},
    "GCS31": {"start_sampling": {"sample_request_interval": 360, "max_number_of_samples": 41}},
    # Calendar reads start at the first day and week profile.
    "GCS21b": {"get_day_profiles": {"start_day_id": 1}, "get_week_profiles": {"start_week_id": 1}},
    "GCS21f": {"get_day_profiles": {"start_day_id": 1}, "get_week_profiles": {"start_week_id": 1}},
    # The event group of every non-critical event (codes 0x81..): GBCS GCS20r has the GSME
    # report the configuration of all of them.
    "GCS20r": {"get_event_configuration": {"event_id": 0x81FF}},
}
