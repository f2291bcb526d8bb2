"""Which GBCS use case carries a service request variant to which device type.

A DUIS service request names a service reference variant ("4.1.1") and a target
device; the DCC turns it into the GBCS command of the use case the target's type
implements (ECS17b for an ESME, GCS13a for a GSME or its GPF mirror). Some
variants have several use cases on one device type (add or remove for 8.11, the
event or the security log for 6.13): `option` tells them apart, and the route
without an option is the default.

Facts come from the reference test data set (its folders are named
``<variant>_<use case>``), the GBCS use-case list and the devices' own table
(`emulator.devices.usecases.USE_CASES`), which a unit test checks every route
against. Use cases that travel without a service request (DCC-originated credential
updates, CS02a/f signature forms) have the variant "NA".

`originator` is the trust-anchor role that sends the command in the lab (the
USE_CASES vocabulary: supplier, network_operator, acb, ...); `critical` means the
command carries the originator's signature. It comes from the codec's table
(`emulator.gbcs.message_codes.MESSAGE_CODES`), checked when this module is
imported; only the routes of a code with a MAC and a signature form (CS02a,
CS02f) say which form they are. Two "non-critical" join and unjoin services
(CS03A2/CS03C/CS04AC NonCritical) are signed by the ACB itself, so their routes
are critical with the ACB as originator.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.gbcs.message_codes import MessageCodeMismatch, derived_critical


@dataclass(frozen=True, slots=True)
class Route:
    variant: str
    use_case: str
    message_code: int
    device_type: str
    critical: bool
    option: str | None = None
    originator: str = "supplier"


class NoRoute(LookupError):
    """No use case carries this variant to this device type (with this option)."""


_SUP, _NO, _ACB = "supplier", "network_operator", "acb"


def _r(
    variant: str,
    use_case: str,
    code: int,
    devices: str,
    originator: str = _SUP,
    option: str | None = None,
    *,
    critical: bool | None = None,
) -> list[Route]:
    """Routes of one use case; `critical` only for a variant of a two-form code."""
    derived = derived_critical(code, use_case, critical)
    if derived is None:
        raise MessageCodeMismatch(
            f"{use_case} (0x{code:04X}): the code has a MAC and a signature form;"
            " the route must say which it is"
        )
    return [
        Route(variant, use_case, code, device, derived, option, originator)
        for device in devices.split()
    ]


_TABLE: list[list[Route]] = [
    # 1 tariffs, balances, payment mode
    _r("1.1.1", "ECS01a", 0x0019, "ESME"),
    _r("1.1.1", "GCS01a", 0x006B, "GSME"),
    _r("1.1.2", "ECS01c", 0x00B7, "ESME"),
    _r("1.2.1", "ECS01b", 0x00A2, "ESME"),
    _r("1.2.1", "GCS01b", 0x00A3, "GSME"),
    _r("1.2.2", "ECS01d", 0x00C7, "ESME"),
    _r("1.5", "ECS04a", 0x001C, "ESME"),
    _r("1.5", "ECS04b", 0x00B3, "ESME", option="reset"),
    _r("1.5", "GCS40a", 0x0086, "GSME"),
    _r("1.5", "GCS40b", 0x00B4, "GSME", option="reset"),
    _r("1.5", "GCS40c", 0x00C0, "GSME", option="credit_mode"),
    _r("1.5", "GCS40d", 0x00C2, "GSME", option="credit_mode_reset"),
    _r("1.6", "ECS02", 0x001A, "ESME"),
    _r("1.6", "ECS03", 0x001B, "ESME", option="prepayment"),
    _r("1.6", "GCS02", 0x006C, "GSME"),
    _r("1.6", "GCS03", 0x006D, "GSME", option="prepayment"),
    _r("1.7", "ECS05", 0x001D, "ESME"),
    # 2 prepayment
    _r("2.1", "ECS08a", 0x00DE, "ESME"),
    _r("2.1", "ECS08", 0x001F, "ESME", option="ECS08"),
    _r("2.1", "GCS05", 0x006F, "GSME"),
    _r("2.2", "CS01a", 0x0007, "ESME"),
    _r("2.2", "CS01b", 0x0097, "GSME"),
    _r("2.3", "ECS07", 0x001E, "ESME"),
    _r("2.3", "GCS04", 0x006E, "GSME"),
    _r("2.5", "ECS09", 0x0020, "ESME"),
    _r("2.5", "GCS06", 0x0070, "GSME"),
    # 3 messages, tenancy, logs, supplier details, PIN
    _r("3.1", "ECS10", 0x0021, "ESME"),
    _r("3.1", "GCS07", 0x0071, "GSME"),
    _r("3.2", "ECS12", 0x0022, "ESME"),
    _r("3.2", "GCS09", 0x0072, "GPF"),
    _r("3.3", "ECS15a", 0x0024, "ESME"),
    _r("3.3", "ECS15c", 0x00C1, "ESME", option="auxiliary"),
    _r("3.3", "CS11", 0x0015, "GSME"),
    _r("3.4", "ECS16", 0x0025, "ESME"),
    _r("3.4", "GCS44", 0x0088, "GSME"),
    _r("3.5", "ECS14", 0x0023, "ESME"),
    _r("3.5", "GCS11", 0x0073, "GSME"),
    # 4 reads
    _r("4.1.1", "ECS17b", 0x0027, "ESME"),
    _r("4.1.1", "GCS13a", 0x0074, "GPF GSME"),
    _r("4.1.2", "ECS17d", 0x0029, "ESME"),
    _r("4.1.2", "GCS13c", 0x00B6, "GPF GSME"),
    _r("4.1.3", "ECS17e", 0x002A, "ESME"),
    _r("4.1.4", "GCS13b", 0x00B8, "GPF GSME"),
    _r("4.2", "ECS17a", 0x0026, "ESME", _NO),
    _r("4.3", "ECS19", 0x002D, "ESME"),
    _r("4.3", "GCS14", 0x0075, "GPF GSME"),
    _r("4.4.2", "ECS20b", 0x002F, "ESME"),
    _r("4.4.2", "GCS15b", 0x00C3, "GSME"),
    _r("4.4.3", "ECS20c", 0x0030, "ESME"),
    _r("4.4.3", "GCS15c", 0x0076, "GSME"),
    _r("4.4.4", "ECS20a", 0x002E, "ESME"),
    _r("4.4.4", "GCS15d", 0x00C4, "GSME"),
    _r("4.4.5", "ECS20d", 0x00C9, "ESME"),
    _r("4.4.5", "GCS15e", 0x00C5, "GSME"),
    _r("4.6.1", "ECS21a", 0x0033, "ESME"),
    _r("4.6.1", "GCS16a", 0x0077, "GSME"),
    _r("4.6.2", "ECS21c", 0x0035, "ESME", _ACB),
    _r("4.8.1", "ECS22b", 0x0037, "ESME"),
    _r("4.8.1", "GCS17", 0x0078, "GSME"),
    _r("4.8.2", "ECS22c", 0x0038, "ESME"),
    _r("4.8.3", "ECS22a", 0x0036, "ESME", _NO),
    _r("4.10", "ECS23", 0x0039, "ESME"),
    _r("4.10", "ECS23b", 0x00BC, "ESME", option="polyphase"),
    _r("4.10", "GCS18", 0x0079, "GSME"),
    _r("4.11.1", "ECS24", 0x003A, "ESME"),
    _r("4.11.1", "GCS21f", 0x009F, "GSME"),
    _r("4.11.2", "ECS24b", 0x00BD, "ESME"),
    _r("4.12.1", "ECS18b", 0x002C, "ESME"),
    _r("4.12.2", "ECS18a", 0x002B, "ESME", _NO),
    _r("4.13", "ECS26a", 0x003B, "ESME"),
    _r("4.13", "GCS21b", 0x00B5, "GSME"),
    _r("4.14", "ECS21b", 0x0034, "ESME"),
    _r("4.14", "GCS16b", 0x0096, "GPF GSME"),
    _r("4.15", "ECS27", 0x0042, "ESME"),
    _r("4.16", "ECS17c", 0x0028, "ESME", _NO),
    _r("4.17", "ECS66", 0x0060, "ESME"),
    _r("4.17", "GCS61", 0x00A0, "GPF"),
    _r("4.18", "ECS82", 0x0069, "ESME"),
    _r("4.18", "GCS60a", 0x012A, "GPF GSME"),
    _r("4.18", "GCS60", 0x008D, "GSME", option="GCS60"),
    # 6 configuration
    _r("6.2.1", "ECS26b", 0x003C, "ESME"),
    _r("6.2.1", "ECS26k", 0x00C6, "ESME", option="polyphase"),
    _r("6.2.2", "ECS26c", 0x003D, "ESME"),
    _r("6.2.3", "ECS26l", 0x00D9, "ESME"),
    _r("6.2.3", "ECS26d", 0x003E, "ESME", option="ECS26d"),
    _r("6.2.3", "GCS21k", 0x00DA, "GSME"),
    _r("6.2.3", "GCS21d", 0x009D, "GSME", option="GCS21d"),
    _r("6.2.4", "ECS26m", 0x00F9, "ESME"),
    _r("6.2.4", "ECS26e", 0x003F, "ESME", option="ECS26e"),
    _r("6.2.4", "ECS26n", 0x00FA, "CHF", _ACB),
    _r("6.2.4", "ECS26i", 0x0092, "CHF", _ACB, option="ECS26i"),
    _r("6.2.4", "GCS21m", 0x00FB, "GSME"),
    _r("6.2.4", "GCS21e", 0x009E, "GSME", option="GCS21e"),
    _r("6.2.5", "ECS26f", 0x0040, "ESME"),
    _r("6.2.7", "ECS40", 0x004E, "ESME"),
    _r("6.2.7", "GCS46", 0x0089, "GSME"),
    _r("6.2.8", "GCS21a", 0x007B, "GSME"),
    _r("6.2.9", "ECS26j", 0x00BE, "ESME"),
    _r("6.2.9", "GCS21j", 0x00BF, "GSME"),
    _r("6.2.10", "ECS25r1", 0x00EE, "ESME"),
    _r("6.2.10", "ECS25r2", 0x00EF, "ESME", _NO, option="network_operator"),
    _r("6.2.10", "GCS20r", 0x00F1, "GSME"),
    _r("6.4.1", "ECS28a", 0x0043, "ESME"),
    _r("6.4.2", "ECS28b", 0x0044, "ESME"),
    _r("6.5", "ECS29a", 0x0045, "ESME", _NO),
    _r("6.5", "ECS29b", 0x00AE, "ESME", _NO, option="polyphase"),
    _r("6.5", "ECS29c", 0x00D1, "ESME", _NO, option="no_reset"),
    _r("6.5", "ECS29d", 0x00D2, "ESME", _NO, option="polyphase_no_reset"),
    _r("6.6", "GCS23", 0x007C, "GSME"),
    _r("6.7", "GCS24a", 0x00FC, "GSME"),
    _r("6.7", "GCS24", 0x007D, "GSME", option="GCS24"),
    _r("6.8", "ECS30a", 0x00D7, "ESME"),
    _r("6.8", "ECS30", 0x0046, "ESME", option="ECS30"),
    _r("6.8", "GCS25a", 0x00D8, "GSME"),
    _r("6.8", "GCS25", 0x007E, "GSME", option="GCS25"),
    _r("6.11", "ECS70", 0x0062, "ESME"),
    _r("6.11", "GCS28", 0x007F, "GSME"),
    _r("6.12", "ECS34", 0x0047, "ESME"),
    _r("6.13", "ECS35a", 0x0048, "ESME"),
    _r("6.13", "ECS35b", 0x0049, "ESME", option="security"),
    _r("6.13", "ECS35e", 0x00B9, "ESME", option="power"),
    _r("6.13", "ECS35g", 0x00FD, "ESME", option="auxiliary"),
    _r("6.13", "ECS35f", 0x00BA, "ESME", option="ECS35f"),
    _r("6.13", "ECS35c", 0x0093, "CHF", _ACB),
    _r("6.13", "ECS35d", 0x0094, "CHF", _ACB, option="security"),
    _r("6.13", "CS10a", 0x0014, "GSME"),
    _r("6.13", "CS10b", 0x00A1, "GSME", option="security"),
    _r("6.14.1", "ECS46a", 0x0053, "ESME"),
    _r("6.14.2", "ECS46c", 0x0054, "ESME"),
    _r("6.14.3", "ECS46d", 0x011A, "ESME"),
    _r("6.15.1", "CS02bSupplierBySupplier", 0x0102, "ESME GPF"),
    _r("6.15.1", "CS02bNOByNO", 0x0103, "ESME GPF", _NO, option="network_operator"),
    _r("6.15.1", "CS02gLoadControllerBySupplier", 0x0126, "ESME", option="load_controller"),
    _r("6.15.2", "CS02d", 0x000B, "ESME"),
    _r("6.17", "CS02c", 0x000A, "ESME"),
    _r("6.18.1", "ECS37", 0x004A, "ESME", _NO),
    _r("6.18.2", "ECS57", 0x005A, "ESME", _NO),
    _r("6.20.1", "ECS39a", 0x004C, "ESME"),
    _r("6.20.1", "GCS41", 0x0087, "GSME"),
    _r("6.20.2", "ECS39b", 0x004D, "ESME", _ACB),
    _r("6.21", "CS02bSupplierBySupplierHandover", 0x0102, "GPF", _ACB),
    _r(
        "6.21",
        "CS02bNOByNOHandover",
        0x0103,
        "GPF",
        _ACB,
        option="network_operator",
    ),
    _r("6.22", "ECS25a", 0x00AC, "ESME"),
    _r("6.22", "ECS25a1", 0x00EA, "ESME", option="han"),
    _r("6.22", "ECS25a2", 0x00EB, "ESME", option="audible"),
    _r("6.22", "ECS25a3", 0x00EC, "ESME", option="logging"),
    _r("6.22", "ECS25b", 0x00B0, "ESME", _NO, option="network_operator"),
    _r("6.22", "ECS25b3", 0x00ED, "ESME", _NO, option="network_operator_logging"),
    _r("6.22", "GCS20", 0x00AD, "GSME"),
    _r("6.23", "CS02bSupplierByTransCoS", 0x0107, "ESME", "transitional_cos"),
    _r("6.24.1", "CS02aMAC", 0x0008, "CHF ESME GSME", _ACB, critical=False),
    _r("6.24.1", "CS02fMAC", 0x011B, "ESME", _ACB, option="CS02f", critical=False),
    _r("6.24.2", "CS02e", 0x000C, "ESME"),
    _r("6.25", "ECS81", 0x0068, "ESME"),
    _r("6.26", "ECS48", 0x00DB, "ESME"),
    _r("6.27", "ECS29e", 0x00D3, "ESME", _NO),
    _r("6.27", "ECS29f", 0x00D4, "ESME", _NO, option="polyphase"),
    _r("6.28", "DBCH04", 0x010D, "CHF", _ACB),
    _r("6.29", "DBCH05", 0x010E, "CHF", _ACB),
    _r("6.30", "DBCH03", 0x010C, "CHF", _ACB),
    _r("6.31", "DBCH01", 0x010A, "CHF", _ACB),
    _r("6.32", "DBCH02", 0x010B, "CHF", _ACB),
    # 7 supply and auxiliary load control
    _r("7.1", "ECS42", 0x004F, "ESME"),
    _r("7.2", "ECS43", 0x0050, "ESME"),
    _r("7.2", "GCS32", 0x0081, "GSME"),
    _r("7.3", "ECS44", 0x0051, "ESME"),
    _r("7.3", "GCS39", 0x0085, "GSME"),
    _r("7.4", "ECS45", 0x0052, "ESME"),
    _r("7.4", "GCS33", 0x0082, "GSME"),
    _r("7.5", "ECS47Activate", 0x0055, "ESME"),
    _r("7.6", "ECS47Deactivate", 0x0055, "ESME"),
    _r("7.7", "ECS61a", 0x00BB, "ESME"),
    _r("7.8", "ECS47Reset", 0x0055, "ESME"),
    _r("7.9", "ECS62Add", 0x005F, "ESME"),
    _r("7.10", "ECS62Remove", 0x005F, "ESME"),
    _r("7.11", "ECS61c", 0x005E, "ESME"),
    _r("7.12", "ECS38", 0x004B, "ESME"),
    _r("7.13", "ECS47a", 0x011E, "ESME"),
    _r("7.14", "ECS61d", 0x011C, "ESME"),
    _r("7.15", "ECS61e", 0x011D, "ESME"),
    _r("7.16", "ECS47e", 0x011F, "ESME", "load_controller"),
    # 8 commissioning, credentials, joins, hub logs
    _r("8.1.1", "ECS70Commission", 0x0062, "ESME"),
    _r("8.1.1", "GCS28Commission", 0x007F, "GSME"),
    _r("8.5", "CS02bACBByACB", 0x0104, "ESME", _ACB),
    _r("8.7.1", "CS03A1", 0x000D, "ESME"),
    _r("8.7.1", "CS03A2Critical", 0x00AB, "PPMID HCALCS"),
    _r("8.7.1", "CS03CCritical", 0x00AF, "GSME"),
    _r("8.7.1", "CS03CCritical", 0x00AF, "PPMID", option="method_c"),
    _r("8.7.2", "CS03B", 0x000E, "GSME", _ACB),
    _r("8.7.2", "CS03B", 0x000E, "ESME", _ACB),  # a Type 2 device (method B)
    _r("8.7.2", "CS03CNonCritical", 0x00AF, "GSME", _ACB, option="method_c"),
    _r("8.7.2", "CS03A2NonCritical", 0x00AB, "PPMID HCALCS", _ACB),
    _r("8.7.2", "CS03CNonCritical", 0x00AF, "PPMID", _ACB, option="method_c"),
    _r("8.8.1", "CS04ACCritical", 0x000F, "ESME GSME PPMID"),
    _r("8.8.2", "CS04ACNonCritical", 0x000F, "ESME PPMID", _ACB),
    _r("8.8.2", "CS04B", 0x0010, "GSME"),
    _r("8.8.2", "CS04B", 0x0010, "ESME", option="method_b"),  # a Type 2 device
    _r("8.8.2", "CS04ACNonCritical", 0x000F, "GSME", _ACB, option="method_a_c"),
    _r("8.9", "CCS07", 0x00FE, "CHF", _ACB),
    _r("8.9", "CCS06", 0x010F, "CHF", _ACB, option="CCS06"),
    _r("8.9", "CCS05CCS04", 0x0004, "CHF", _ACB, option="CCS05"),
    _r("8.9", "CS07", 0x0013, "GSME", _ACB),
    _r("8.9", "CS07", 0x0013, "ESME", _ACB),
    _r("8.11", "CCS01", 0x0001, "CHF", _ACB, option="add"),
    _r("8.11", "CCS02", 0x0002, "CHF", _ACB, option="remove"),
    _r("8.12.1", "CCS03", 0x0003, "CHF", _ACB),
    _r("8.12.2", "GCS59", 0x008C, "GPF", _ACB),
    # 9, 11, 14
    _r("9.1", "ECS50", 0x0058, "ESME", _ACB),
    _r("9.1", "GCS36", 0x0083, "GSME", _ACB),
    _r("11.2", "ECS52", 0x0059, "ESME CHF"),
    _r("11.2", "GCS38", 0x0084, "GSME"),
    _r("11.2", "CS08", 0x0129, "PPMID HCALCS", _ACB),
    _r("11.3", "CS06", 0x0012, "ESME GSME CHF"),
    _r("14.1", "GCS31", 0x0080, "GSME", _ACB),
    # use cases without a service request: DCC-originated or recovery credential work
    _r(
        "NA",
        "CS02aSignature",
        0x0008,
        "CHF ESME GSME",
        "transitional_cos",
        "CS02aSignature",
        critical=True,
    ),
    _r("NA", "CS02fSignature", 0x011B, "ESME", _SUP, "CS02fSignature", critical=True),
    _r("NA", "CS02bWPByWP", 0x0105, "CHF", "wan_provider", "CS02bWPByWP"),
    _r(
        "NA",
        "CS02bTransCoSByTransCoS",
        0x0106,
        "ESME",
        "transitional_cos",
        "CS02bTransCoSByTransCoS",
    ),
    _r(
        "NA",
        "CS02bAnyExceptAbnormalRootByRecovery",
        0x0108,
        "ESME",
        "recovery",
        "CS02bAnyExceptAbnormalRootByRecovery",
    ),
    _r(
        "NA",
        "CS02gLoadControllerByLoadController",
        0x0125,
        "ESME",
        "load_controller",
        "CS02gLoadControllerByLoadController",
    ),
]

ROUTES: tuple[Route, ...] = tuple(r for group in _TABLE for r in group)

#: Catalogue device variants that no GBCS command carries, and why.
UNROUTED: dict[str, str] = {
    "8.6": (
        "Service Opt In: no GBCS use case in the reference data or the GBCS use-case list"
        " carries it to a device; the DCC restores its own credentials (see 8.5 / CS02b)"
    ),
    "8.13": (
        "Return Local Command Response: the user returns a response a device produced"
        " locally; the DCC sends nothing to the device"
    ),
}


def routes_for(variant: str, device_type: str | None = None) -> list[Route]:
    """Every route of a variant (to one device type if given), default routes first."""
    found = [
        r
        for r in ROUTES
        if r.variant == variant and (device_type is None or r.device_type == device_type)
    ]
    return sorted(found, key=lambda r: r.option is not None)


def route(variant: str, device_type: str, option: str | None = None) -> Route:
    """The route for a variant on a device type.

    Without an option: the default route, or the only route when there is just
    one (8.11 has none by default: "add" or "remove" must be said).
    """
    candidates = routes_for(variant, device_type)
    for r in candidates:
        if r.option == option:
            return r
    if option is None and len(candidates) == 1:
        return candidates[0]
    if not candidates:
        reason = UNROUTED.get(variant, "no such variant for this device type")
        raise NoRoute(f"{variant} on {device_type}: {reason}")
    options = ", ".join(repr(r.option) for r in candidates)
    raise NoRoute(f"{variant} on {device_type}: no option {option!r} (options: {options})")


def variants_with_routes() -> set[str]:
    return {r.variant for r in ROUTES}
