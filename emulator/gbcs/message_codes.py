"""GBCS message codes (the 2-byte use-case identifier in the grouping header).

A table of facts from GBCS: which use case a code belongs to, the SEC service
reference variants that send it and whether the use case is critical. The codec
never needs it to parse: the payload is identified from its own first bytes. It
names things for people and lets the device and DCC layers dispatch by use case.

This is the one source of truth for criticality. The devices' use-case table
(`emulator.devices.usecases`) and the DCC's routes (`hil.dcc.routes`) take it
from here through `derived_critical`, which raises `MessageCodeMismatch` when
they are imported if they state anything else.

Criticality comes from the GBCS use-case list (message type SME.C.C / SME.A.C is
critical, SME.C.NC / SME.A.NC is not) and, for codes the list does not settle
(variant forms, use cases later versions dropped, alerts), from the reference
test data: a critical command or alert carries the originator's signature, a
non-critical one only a MAC. None means the code has both forms and the variant
decides (CS02a and CS02f: a MAC form and a signature form), or the references do
not settle it (CS02b codes 0100, 0101 and 0109, two alerts, and the ZSE-specified
HAN messages, which GBCS protection does not apply to).
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.errors import EmulatorError


class MessageCodeMismatch(EmulatorError, ValueError):
    """A table keyed by message code disagrees with `MESSAGE_CODES` (a bug, found at import)."""


@dataclass(frozen=True, slots=True)
class MessageCode:
    code: int
    use_case: str
    name: str
    critical: bool | None
    service_references: tuple[str, ...]

    def __str__(self) -> str:
        return f"0x{self.code:04X} {self.use_case}".rstrip()


def _c(
    code: int, use_case: str, name: str, critical: bool | None, refs: tuple[str, ...]
) -> MessageCode:
    return MessageCode(code, use_case, name, critical, refs)


MESSAGE_CODES: dict[int, MessageCode] = {
    m.code: m
    for m in (
        _c(0x0001, "CCS01", "Add Device to CHF device log", False, ("8.11",)),
        _c(0x0002, "CCS02", "Remove device from CHF device log", False, ("8.11",)),
        _c(0x0003, "CCS03", "Restore CHF Device Log", False, ("8.12.1",)),
        _c(0x0004, "CCS05CCS04", "Read CHF Device Log / Read Device Log", False, ("8.9",)),
        _c(0x0007, "CS01a", "Apply Prepayment Top Up", False, ("2.2",)),
        _c(0x0008, "CS02a", "Provide Security Credentials Details", None, ()),
        _c(0x000A, "CS02c", "Issue Security Credentials", True, ("6.17",)),
        _c(0x000B, "CS02d", "Update Device Certificates on Device", True, ("6.15.2",)),
        _c(0x000C, "CS02e", "Provide Device Certificates from Device", True, ("6.24.2",)),
        _c(0x000D, "CS03A1", "Method A Join (Meter)", True, ("8.7.1",)),
        _c(0x000E, "CS03B", "Method B Join", False, ("8.7.2",)),
        _c(0x000F, "CS04AC", "Method A or C Unjoin", True, ("8.8.1", "8.8.2")),
        _c(0x0010, "CS04B", "Method B Unjoin", False, ("8.8.2",)),
        _c(0x0012, "CS06", "Activate Firmware", True, ("11.3",)),
        _c(0x0013, "CS07", "Read Device Join Details", False, ("8.9",)),
        _c(0x0014, "CS10a", "Read device Event Log", False, ("6.13",)),
        _c(0x0015, "CS11", "Clear Event Log", False, ("3.3",)),
        _c(0x0018, "CS14", "Device Addition To / Removal From HAN Whitelist Alerts", False, ()),
        _c(0x0019, "ECS01a", "Set Tariff and Price", True, ("1.1",)),
        _c(0x001A, "ECS02", "Set Payment Mode to Credit", True, ("1.6",)),
        _c(0x001B, "ECS03", "Set Payment Mode to Prepayment", True, ("1.6",)),
        _c(0x001C, "ECS04a", "Adjust Meter Balance", True, ("1.5",)),
        _c(0x001D, "ECS05", "Reset Tariff Block Counter Matrix", True, ("1.7",)),
        _c(0x001E, "ECS07", "Debt Management", True, ("2.3",)),
        _c(0x001F, "ECS08", "Update Prepayment Configuration on ESME", True, ("2.1",)),
        _c(0x0020, "ECS09", "Activate Emergency Credit Remotely", True, ("2.5",)),
        _c(0x0021, "ECS10", "Send Message to Meter", False, ("3.1",)),
        _c(0x0022, "ECS12", "Set Change of Tenancy date", False, ("3.2",)),
        _c(0x0023, "ECS14", "Disable Privacy PIN Protection", False, ("3.5",)),
        _c(0x0024, "ECS15a", "Clear Event Log", False, ("3.3",)),
        _c(0x0025, "ECS16", "Write Supplier Contact Details", False, ("3.4",)),
        _c(0x0026, "ECS17a", "Read ESME Energy Registers (Export Energy)", False, ("4.2",)),
        _c(0x0027, "ECS17b", "Read Import Energy / Consumption Registers", False, ("4.1.1",)),
        _c(0x0028, "ECS17c", "Read ESME Energy Registers (Power)", False, ("4.16",)),
        _c(0x0029, "ECS17d", "Read Energy / Consumption Register (TOU)", False, ("4.1",)),
        _c(0x002A, "ECS17e", "Read ESME Energy Register (TOU with Blocks)", False, ("4.1",)),
        _c(0x002B, "ECS18a", "Read Maximum Demand Registers (export)", False, ("4.12.2",)),
        _c(0x002C, "ECS18b", "Read Maximum Demand Registers (import)", False, ("4.12",)),
        _c(0x002D, "ECS19", "Read Prepayment Registers", False, ("4.3",)),
        _c(
            0x002E, "ECS20a", "Read Billing Data Log (payment-based debt payments)", False, ("4.4",)
        ),
        _c(
            0x002F,
            "ECS20b",
            "Read Billing Data Log (change of mode / tariff triggered exc export)",
            False,
            ("4.4.2",),
        ),
        _c(
            0x0030,
            "ECS20c",
            "Read Billing Data Log (billing calendar triggered exc export)",
            False,
            ("4.4",),
        ),
        _c(0x0033, "ECS21a", "Read Daily Read Log (exc export)", False, ("4.6.1",)),
        _c(0x0034, "ECS21b", "Read (Prepayment) Daily Read Log", False, ("4.14",)),
        _c(0x0035, "ECS21c", "Read Electricity Daily Read Log (export only)", False, ("4.6",)),
        _c(0x0036, "ECS22a", "Read Half Hour Profile Data (export)", False, ("4.8.3",)),
        _c(0x0037, "ECS22b", "Read Half Hour Profile Data (consumption)", False, ("4.8.1",)),
        _c(0x0038, "ECS22c", "Read Half Hour Profile Data (reactive import)", False, ("4.8",)),
        _c(0x0039, "ECS23", "Read Voltage Operational Data", False, ("4.10",)),
        _c(0x003A, "ECS24", "Read Tariff Data", False, ("4.11.1",)),
        _c(0x003B, "ECS26a", "Read Configuration Data Prepayment", False, ("4.13",)),
        _c(0x003C, "ECS26b", "Read Configuration Voltage Data", False, ("6.2.1",)),
        _c(
            0x003D,
            "ECS26c",
            "Read Configuration Data Device Information  (randomisation)",
            False,
            ("6.2.2",),
        ),
        _c(
            0x003E,
            "ECS26d",
            "Read ESME Configuration Data Device Information (Billing Calendar)",
            False,
            ("6.2.3",),
        ),
        _c(
            0x003F,
            "ECS26e",
            "Read ESME Configuration Data Device Information (device identity exc MPAN)",
            False,
            (),
        ),
        _c(
            0x0040,
            "ECS26f",
            "Read Configuration Data Device Information (instantaneous power thresholds)",
            False,
            ("6.2",),
        ),
        _c(0x0042, "ECS27", "Read Load Limit Data", False, ("4.15",)),
        _c(0x0043, "ECS28a", "Set Load Limit Configurations - General Settings", True, ("6.4.1",)),
        _c(0x0044, "ECS28b", "Set Load Limit Configuration Counter Reset", False, ("6.4.2",)),
        _c(
            0x0045,
            "ECS29a",
            "Set Voltage Configurations on ESME with counter resets",
            False,
            ("6.5",),
        ),
        _c(0x0046, "ECS30", "Set Billing Calendar on the ESME", True, ("6.8",)),
        _c(0x0047, "ECS34", "Set Instantaneous Power Threshold Configuration", False, ("6.12",)),
        _c(0x0048, "ECS35a", "Read device Event Log", False, ("6.13",)),
        _c(0x0049, "ECS35b", "Read device Security Log", False, ("6.13",)),
        _c(0x004A, "ECS37", "Set Maximum Demand Configurable Time Period", False, ("6.18.1",)),
        _c(0x004B, "ECS38", "Update Randomised Offset Limit", True, ("7.12",)),
        _c(0x004C, "ECS39a", "Set MPAN / MPRN Value", False, ("6.20",)),
        _c(0x004D, "ECS39b", "Set Export MPAN Value on the ESME", False, ("6.20",)),
        _c(0x004E, "ECS40", "Read MPAN / MPRN Value", False, ("6.2",)),
        _c(0x004F, "ECS42", "Remotely Close the Load Switch on the ESME", True, ("7.1",)),
        _c(0x0050, "ECS43", "Remotely Open the Load Switch / close Valve", True, ("7.2",)),
        _c(0x0051, "ECS44", "Arm Load Switch / Valve", True, ("7.3",)),
        _c(0x0052, "ECS45", "Read Status of Load Switch / Valve", False, ("7.4",)),
        _c(0x0053, "ECS46a", "Set Auxiliary Controller Descriptions", True, ("6.14",)),
        _c(
            0x0054,
            "ECS46c",
            "Set HC ALCS and ALCS configuration in ESME (excluding labels)",
            True,
            ("6.14.2",),
        ),
        _c(0x0055, "ECS47", "Set or Reset HC ALCS or ALCS State", True, ("7.5", "7.6", "7.8")),
        _c(0x0058, "ECS50", "Send CIN to meter", False, ("9.1",)),
        _c(0x0059, "ECS52", "Read ESME/SAPC/GSME/Comms Hub Firmware Version", False, ("11.2",)),
        _c(0x005A, "ECS57", "Reset Maximum Demand Registers", False, ("6.18.2",)),
        _c(0x005E, "ECS61c", "Read Boost Function Data", False, ("7.11",)),
        _c(0x005F, "ECS62", "Set ALCS/APC and Boost Function Association", False, ("7.10", "7.9")),
        _c(0x0060, "ECS66", "Read Daily Consumption Log", False, ("4.17",)),
        _c(0x0061, "ECS68", "Critical Sensitive Alert (Billing Data Log)", True, ()),
        _c(0x0062, "ECS70", "Set Clock", True, ()),
        _c(0x0067, "ECS80", "Supply Outage Restore Alert from ESME", True, ()),
        _c(0x0068, "ECS81", "Set Supply Tamper State on ESME", True, ("6.25",)),
        _c(0x0069, "ECS82", "Read Meter Balance for Smart Meter", False, ("4.18",)),
        _c(0x006B, "GCS01a", "Set Tariff and Price", True, ("1.1",)),
        _c(0x006C, "GCS02", "Set Payment Mode to Credit", True, ("1.6",)),
        _c(0x006D, "GCS03", "Set Payment Mode to Prepayment", True, ("1.6",)),
        _c(0x006E, "GCS04", "Debt Management", True, ("2.3",)),
        _c(0x006F, "GCS05", "Update Prepayment Configuration", True, ("2.1",)),
        _c(0x0070, "GCS06", "Activate Emergency Credit Remotely", True, ("2.5",)),
        _c(0x0071, "GCS07", "Send Message to Meter", False, ("3.1",)),
        _c(0x0072, "GCS09", "Set Change of Tenancy date", False, ("3.2",)),
        _c(0x0073, "GCS11", "Disable Privacy PIN Protection", False, ("3.5",)),
        _c(0x0074, "GCS13a", "Read Import Energy / Consumption Registers", False, ("4.1.1",)),
        _c(0x0075, "GCS14", "Read Prepayment Registers", False, ("4.3",)),
        _c(
            0x0076,
            "GCS15c",
            "Read Billing Data Log (billing calendar triggered exc export)",
            False,
            ("4.4",),
        ),
        _c(0x0077, "GCS16a", "Read Daily Read Log (exc export)", False, ("4.6.1",)),
        _c(0x0078, "GCS17", "Read Half Hour Profile Data (consumption)", False, ("4.8.1",)),
        _c(0x0079, "GCS18", "Read Gas Network Data Log", False, ("4.10",)),
        _c(0x007B, "GCS21a", "Read Configuration Data Device Information (gas)", False, ("6.2",)),
        _c(0x007C, "GCS23", "Set CV and Conversion Factor Value(s) on the GSME", True, ("6.6",)),
        _c(
            0x007D,
            "GCS24",
            "Set Uncontrolled Gas Flow Rate and Supply Tamper State on the GSME",
            True,
            ("6.7",),
        ),
        _c(0x007E, "GCS25", "Set Billing Calendar", True, ("6.8",)),
        _c(0x007F, "GCS28", "Set Clock", True, ("6.11", "8.1.1")),
        _c(0x0080, "GCS31", "Start Network Data Log on GSME", False, ("14.1",)),
        _c(0x0081, "GCS32", "Remotely Open the Load Switch / close Valve", True, ("7.2",)),
        _c(0x0082, "GCS33", "Read Status of Load Switch / Valve", False, ("7.4",)),
        _c(0x0083, "GCS36", "Send CIN to meter", False, ("9.1",)),
        _c(0x0084, "GCS38", "Read ESME/SAPC/GSME/Comms Hub Firmware Version", False, ("11.2",)),
        _c(0x0085, "GCS39", "Arm Load Switch / Valve", True, ("7.3",)),
        _c(0x0086, "GCS40a", "Adjust Prepayment Mode Meter Balance", True, ("1.5",)),
        _c(0x0087, "GCS41", "Set MPAN / MPRN Value", False, ("6.20.1",)),
        _c(0x0088, "GCS44", "Write Supplier Contact Details", False, ("3.4",)),
        _c(0x0089, "GCS46", "Read MPAN / MPRN Value", False, ("6.2",)),
        _c(0x008B, "GCS53", "Critical Sensitive Alert (Billing Data Log)", True, ()),
        _c(0x008C, "GCS59", "Restore GPF Device Log", False, ("8.12.2",)),
        _c(0x008D, "GCS60", "Read Meter Balance for Smart Meter", False, ("4.18",)),
        _c(0x0090, "PCS02", "Activate Emergency Credit on GSME from PPMID", False, ()),
        _c(
            0x0092,
            "ECS26i",
            "Read Configuration Data Device Information (CHF identity)",
            False,
            ("6.2.4",),
        ),
        _c(0x0093, "ECS35c", "Read CHF Event Log", False, ("6.13",)),
        _c(0x0094, "ECS35d", "Read CHF Security Log", False, ("6.13",)),
        _c(0x0096, "GCS16b", "Read (Prepayment) Daily Read Log", False, ("4.14",)),
        _c(0x0097, "CS01b", "Apply Prepayment Top Up", False, ("2.2",)),
        _c(0x009B, "PCS01", "Apply Prepayment Top Up to GSME (using PPMID)", False, ()),
        _c(
            0x009D,
            "GCS21d",
            "Read GSME Configuration Data Device Information (BillingCalendar)",
            False,
            ("6.2.3",),
        ),
        _c(
            0x009E,
            "GCS21e",
            "Read GSME/GPF Configuration Data Device Information (device identity)",
            False,
            ("6.2.4",),
        ),
        _c(0x009F, "GCS21f", "Read Tariff Data", False, ("4.11.1",)),
        _c(0x00A0, "GCS61", "Read Daily Consumption Log", False, ("4.17",)),
        _c(0x00A1, "CS10b", "Read device Security Log", False, ("6.13",)),
        _c(0x00A2, "ECS01b", "Set Price", True, ("1.2.1",)),
        _c(0x00A3, "GCS01b", "Set Price", True, ("1.2.1",)),
        _c(0x00AB, "CS03A2", "Method A Join (non-Meter)", True, ("8.7.1", "8.7.2")),
        _c(0x00AC, "ECS25a", "Set Event  Behaviours logging - Supplier", False, ("6.22",)),
        _c(0x00AD, "GCS20", "Set Alert  Behaviours - Supplier", False, ("6.22",)),
        _c(
            0x00AE,
            "ECS29b",
            "Set Voltage Configurations on ESME - 3 ph with counter resets",
            False,
            ("6.5",),
        ),
        _c(0x00AF, "CS03C", "Method C Join", True, ("8.7.1", "8.7.2")),
        _c(0x00B0, "ECS25b", "Set Event  Behaviours logging - Network Operator", False, ("6.22",)),
        _c(0x00B2, "GCS62", "Backup GPF Device Log", False, ()),
        _c(0x00B3, "ECS04b", "Adjust Meter Balance: Reset", True, ("1.5",)),
        _c(0x00B4, "GCS40b", "Adjust Prepayment Mode Meter Balance: Reset", True, ("1.5",)),
        _c(0x00B5, "GCS21b", "Read Configuration Data Prepayment", False, ("4.13",)),
        _c(0x00B6, "GCS13c", "Read Energy / Consumption Register (TOU)", False, ("4.1",)),
        _c(0x00B7, "ECS01c", "Set Tariff and Price - Second Element", True, ("1.1.2",)),
        _c(0x00B8, "GCS13b", "Read GSME Energy Register (Block Counters)", False, ("4.1.4",)),
        _c(0x00B9, "ECS35e", "Read ESME Power Event Log", False, ("6.13",)),
        _c(0x00BA, "ECS35f", "Read ALCS Event Log", False, ("6.13",)),
        _c(0x00BB, "ECS61a", "Read HC ALCS and ALCS Data from ESME", False, ("7.7",)),
        _c(0x00BC, "ECS23b", "Read Voltage Operational Data - 3 phase", False, ("4.10",)),
        _c(0x00BD, "ECS24b", "Read Tariff Data - second element", False, ("4.11.2",)),
        _c(
            0x00BE,
            "ECS26j",
            "Read Configuration Data Device Information (Payment Mode)",
            False,
            ("6.2.9",),
        ),
        _c(
            0x00BF,
            "GCS21j",
            "Read Configuration Data Device Information (Payment Mode)",
            False,
            ("6.2.9",),
        ),
        _c(0x00C0, "GCS40c", "Adjust Credit Mode Meter Balance", True, ("1.5",)),
        _c(0x00C1, "ECS15c", "Clear Auxiliary Controller Event Log", False, ("3.3",)),
        _c(0x00C2, "GCS40d", "Adjust Credit Mode Meter Balance: Reset", True, ("1.5",)),
        _c(
            0x00C3,
            "GCS15b",
            "Read Billing Data Log (change of mode / tariff triggered exc export)",
            False,
            ("4.4",),
        ),
        _c(
            0x00C4,
            "GCS15d",
            "Read Billing Data Log (payment-based debt payments)",
            False,
            ("4.4.4",),
        ),
        _c(0x00C5, "GCS15e", "Read Billing Data Log (prepayment credits)", False, ("4.4.5",)),
        _c(0x00C6, "ECS26k", "Read Configuration Voltage Data - 3 Phase", False, ("6.2.1",)),
        _c(0x00C7, "ECS01d", "Set Price - Second Element", True, ("1.2.2",)),
        _c(0x00C9, "ECS20d", "Read Billing Data Log (prepayment credits)", False, ("4.4",)),
        _c(0x00CA, "CS06", "Activate Firmware", True, ("11.3",)),
        _c(0x00CB, "CS02bSupplierBySupplier", "Update Security Credentials", True, ("6.15.1",)),
        _c(
            0x00CC,
            "FDA-DLMS",
            "Future Dated Execution Of Instruction Alert (DLMS COSEM)",
            True,
            ("1.1.2", "1.2.1", "1.2.2", "1.6", "2.1", "6.14.2", "6.14.3", "6.4.1"),
        ),
        _c(
            0x00CD,
            "FDA-ZigBee",
            "Future Dated Execution Of Instruction Alert (GBZ)",
            True,
            ("1.2.1", "1.6", "2.1"),
        ),
        _c(0x00CE, "FDRA-DLMS", "Firmware Distribution Receipt Alert (ESME)", True, ()),
        _c(0x00CF, "FDRA-ZigBee", "Firmware Distribution Receipt Alert (GSME)", True, ()),
        _c(
            0x00D1,
            "ECS29c",
            "Set Voltage Configurations on ESME without counter reset",
            False,
            ("6.5",),
        ),
        _c(
            0x00D2,
            "ECS29d",
            "Set Voltage Configurations on polyphase ESME without counter reset",
            False,
            ("6.5",),
        ),
        _c(0x00D3, "ECS29e", "Reset RMS Voltage Counters on ESME", False, ("6.27",)),
        _c(0x00D4, "ECS29f", "Reset RMS Voltage Counters on polyphase ESME", False, ("6.27",)),
        _c(0x00D5, "FDRPM", "Failure to Deliver Remote Party Message to ESME Alert", None, ()),
        _c(0x00D7, "ECS30a", "Set Billing Calendar - all periodicities", True, ("6.8",)),
        _c(0x00D8, "GCS25a", "Set Billing Calendar - all periodicities", True, ("6.8",)),
        _c(
            0x00D9,
            "ECS26l",
            "Read Configuration Data Device Information (Billing Calendar)",
            False,
            ("6.2",),
        ),
        _c(
            0x00DA,
            "GCS21k",
            "Read Configuration Data Device Information (Billing Calendar)",
            False,
            ("6.2.3",),
        ),
        _c(
            0x00DB,
            "ECS48",
            "Configure daily resetting of Tariff Block Counter Matrix",
            True,
            ("6.26",),
        ),
        _c(0x00DE, "ECS08a", "Update Prepayment Configuration", True, ("2.1",)),
        _c(0x00EA, "ECS25a1", "Set Event  Behaviours logging - Supplier", False, ("6.22",)),
        _c(0x00EB, "ECS25a2", "Set Event  Behaviours logging - Supplier", False, ("6.22",)),
        _c(0x00EC, "ECS25a3", "Set Event  Behaviours logging - Supplier", False, ("6.22",)),
        _c(0x00ED, "ECS25b3", "Set Event  Behaviours logging - Network Operator", False, ("6.22",)),
        _c(
            0x00EE,
            "ECS25r1",
            "Read non-critical event and alert behaviours - Network Operator",
            False,
            ("6.2.10",),
        ),
        _c(
            0x00EF,
            "ECS25r2",
            "Read non-critical event and alert behaviours - Network Operator",
            False,
            ("6.2.10",),
        ),
        _c(0x00F0, "MIIWA-DLMS", "Meter Integrity Issue Warning Alert - ESME", None, ()),
        _c(
            0x00F1,
            "GCS20r",
            "Read non-critical event and alert behaviours - Supplier",
            False,
            ("6.2.10",),
        ),
        _c(0x00F2, "MIIWA-ZigBee", "Meter Integrity Issue Warning Alert - GSME", False, ()),
        _c(
            0x00F9,
            "ECS26m",
            "Read Configuration Data Device Information (Smart Meter identity and type, including supply tamper / depletion state )",
            False,
            ("6.2",),
        ),
        _c(
            0x00FA,
            "ECS26n",
            "Read Configuration Data Device Information (CH identity and type)",
            False,
            ("6.2",),
        ),
        _c(
            0x00FB,
            "GCS21m",
            "Read Configuration Data Device Information (Smart Meter identity and type, including supply tamper / depletion state )",
            False,
            ("6.2.4",),
        ),
        _c(
            0x00FC,
            "GCS24a",
            "Set Uncontrolled Gas Flow Rate and Supply Tamper State on the GSME",
            True,
            ("6.7",),
        ),
        _c(0x00FD, "ECS35g", "Read Auxiliary Controller Event Log", False, ("6.13",)),
        _c(0x00FE, "CCS07", "Read CHF Device Logs", False, ("8.9",)),
        _c(0x0100, "CS02b", "Update Security Credentials", None, ()),
        _c(0x0101, "CS02b", "Update Security Credentials", None, ()),
        _c(0x0102, "CS02b", "Update Security Credentials", True, ("6.15.1", "6.21")),
        _c(0x0103, "CS02b", "Update Security Credentials", True, ("6.15.1", "6.21")),
        _c(0x0104, "CS02b", "Update Security Credentials", False, ("8.5",)),
        _c(0x0105, "CS02b", "Update Security Credentials", True, ()),
        _c(0x0106, "CS02b", "Update Security Credentials", True, ()),
        _c(0x0107, "CS02b", "Update Security Credentials", True, ()),
        _c(0x0108, "CS02b", "Update Security Credentials", True, ()),
        _c(0x0109, "CS02b", "Update Security Credentials", None, ()),
        _c(0x010A, "DBCH01", "Read CHF Sub GHz Channel", False, ("6.31",)),
        _c(0x010B, "DBCH02", "Read CHF Sub GHz Channel Log", False, ("6.32",)),
        _c(0x010C, "DBCH03", "Read CHF Sub GHz Configuration", False, ("6.30",)),
        _c(0x010D, "DBCH04", "Set CHF Sub GHz Configuration", False, ("6.28",)),
        _c(0x010E, "DBCH05", "Request CHF Sub GHz Channel Scan", False, ("6.29",)),
        _c(0x010F, "CCS06", "Read CHF device log and check HAN communications", False, ("8.9",)),
        _c(0x0110, "DBCH06", "Limited Duty Cycle Action Taken Sub GHz Alert", False, ()),
        _c(0x0111, "DBCH07", "Sub GHz Sub GHz Channel Changed Sub GHz Alert", False, ()),
        _c(
            0x0112,
            "DBCH08",
            "Sub GHz Channel Scan Request Assessment Outcome Sub GHz Alert",
            False,
            (),
        ),
        _c(0x0113, "DBCH09", "Sub GHz Configuration Changed Sub GHz Alert", False, ("6.28",)),
        _c(
            0x0114,
            "DBCH10",
            "Message Discarded Due to Duty Cycle Management Sub GHz Alert",
            False,
            (),
        ),
        _c(0x0115, "DBCH11", "No More Sub GHz Device Capacity Sub GHz Alert", False, ()),
        _c(0x0116, "PECS01", "Apply Prepayment Top Up to ESME (using PPMID)", None, ()),
        _c(0x0117, "PECS02", "Activate Emergency Credit on ESME from PPMID", None, ()),
        _c(0x0118, "PECS03", "Request to Enable ESME Supply from PPMID", None, ()),
        _c(0x0119, "HECS01", "Request Control of HCALCS [n]", None, ()),
        _c(0x011A, "ECS46d", "Set Auxiliary Controller Calendar", True, ("6.14.3",)),
        _c(
            0x011B,
            "CS02f",
            "Provide Security Credential Details (ESME and SAPC)",
            None,
            ("6.24.1",),
        ),
        _c(0x011C, "ECS61d", "Read Auxiliary Controller Configuration Data", False, ("7.14",)),
        _c(0x011D, "ECS61e", "Read Auxiliary Controller Operational Data", False, ("7.15",)),
        _c(0x011E, "ECS47a", "Set Auxiliary Controller [n] State", True, ("7.13",)),
        _c(0x011F, "ECS47e", "Limit APC [n] Level", True, ("7.16",)),
        _c(0x0120, "ECS100", "Command not supported by Device", True, ()),
        _c(0x0121, "ECS101", "Limit APC [n] Level Command processed", True, ()),
        _c(0x0122, "ECS102", "Limit APC [n] Level ended or cancelled", True, ()),
        _c(
            0x0124,
            "CS02gLoadControllerByLoadController",
            "Update Load Controller Security Credentials",
            True,
            ("6.15.1",),
        ),
        _c(
            0x0125,
            "CS02gLoadControllerByLoadController",
            "Update Load Controller Security Credentials",
            True,
            ("6.15.1",),
        ),
        _c(0x0128, "CCS08", "Firmware Transfer Alert", True, ()),
        _c(
            0x0126,
            "CS02g",
            "Update Load Controller Security Credentials (by supplier)",
            True,
            ("6.15.1",),
        ),
        _c(0x0129, "CS08", "Read PPMID/HCALCS Firmware Version", False, ("11.2",)),
        _c(
            0x012A, "GCS60a", "Read Meter Balance for GSME (with prepayment data)", False, ("4.18",)
        ),
        _c(0x012B, "CS09", "PPMID Firmware Activation Alert", True, ()),
        _c(0x1000, "GCA", "Generic Critical Alert", True, ()),
        _c(0x1001, "GNCA", "Generic Non Critical Alert", False, ()),
    )
}

BY_USE_CASE: dict[str, MessageCode] = {}
for _m in MESSAGE_CODES.values():
    BY_USE_CASE.setdefault(_m.use_case, _m)


def lookup(code: int) -> MessageCode:
    """Known entry, or a placeholder that still prints the code."""
    found = MESSAGE_CODES.get(code)
    if found is not None:
        return found
    return MessageCode(code, "", "unknown message code", None, ())


#: HAN-only use cases (PPMID/HCALCS to meter): their commands are keyed between the
#: two devices, not from the Access Control Broker.
HAN_ONLY_CODES: frozenset[int] = frozenset({0x0090, 0x009B, 0x0116, 0x0117, 0x0118, 0x0119})


def derived_critical(code: int, use_case: str, stated: bool | None = None) -> bool | None:
    """Criticality of `code` for a table derived from `MESSAGE_CODES`, checked.

    `use_case` is the derived table's name for the row: it must start with this
    table's use case (a row filed under the wrong code is caught here). `stated`
    is what the row says itself, if anything: only a row for one variant of a
    code that has both forms (None here) needs to, and a stated value must agree
    with a known one. Raises `MessageCodeMismatch`; derived tables call this while
    they are built, so a disagreement stops the import.
    """
    entry = MESSAGE_CODES.get(code)
    if entry is None:
        raise MessageCodeMismatch(f"{use_case}: message code 0x{code:04X} is not in MESSAGE_CODES")
    if not use_case.startswith(entry.use_case):
        raise MessageCodeMismatch(
            f"{use_case}: message code 0x{code:04X} is {entry.use_case} in MESSAGE_CODES"
        )
    if stated is None:
        return entry.critical
    if entry.critical is not None and entry.critical != stated:
        raise MessageCodeMismatch(
            f"{use_case} (0x{code:04X}) is stated {_criticality(stated)} but MESSAGE_CODES"
            f" has {entry.use_case} {_criticality(entry.critical)}"
        )
    return stated


def _criticality(critical: bool) -> str:
    return "critical" if critical else "non-critical"
