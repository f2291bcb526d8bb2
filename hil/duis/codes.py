"""DUIS response codes: the one table from the harness's reasons to DUIS codes.

The DCC layer (`hil.dcc`) decides with its own reason codes; DUIS users see the
codes of the DUIS schema's `ResponseCode` type. Front-door reasons (schema,
signature, user, replay) are decided by `hil.duis.server` before anything reaches
the DCC layer. The table is documented in docs/duis.md.
"""

from __future__ import annotations

SUCCESS = "I0"
ACKNOWLEDGED = "I99"

#: Reasons decided at the DUIS front door, before the DCC layer sees a request.
SCHEMA_INVALID = "SCHEMA_INVALID"
SIGNATURE_INVALID = "SIGNATURE_INVALID"
UNKNOWN_USER = "UNKNOWN_USER"
REPLAYED_REQUEST_ID = "REPLAYED_REQUEST_ID"
WRONG_ENDPOINT = "WRONG_ENDPOINT"
NOT_AWAITING_SIGNATURE = "NOT_AWAITING_SIGNATURE"

#: Harness reason -> DUIS response code. Every code is one the DUIS v5.4 schema allows.
#: E1-E30 follow the meanings of the DCC's published response-code table (docs/duis.md
#: names the source); the front-door codes for schema, signature and replay failures
#: are our choice, because no public source we found says which code Boxed uses.
DUIS_CODES: dict[str, str] = {
    "I0": SUCCESS,
    "I99": ACKNOWLEDGED,
    # E1: not a valid SEC party / User Role (includes a signature that is not the user's)
    UNKNOWN_USER: "E1",
    SIGNATURE_INVALID: "E1",
    # E2: the User Role may not send this Service Reference
    "USER_NOT_IN_ROLE": "E2",
    "ROLE_NOT_ELIGIBLE": "E2",
    "SERVICE_NOT_USED": "E2",  # 'Not used' in the services schedule: no role may send it
    # E4: the User Role is not authorised for this Device at this time
    "NOT_RESPONSIBLE_SUPPLIER": "E4",
    "NOT_REGISTERED_NETWORK_OPERATOR": "E4",
    "NOT_LEAD_SUPPLIER": "E4",
    "NOT_APPOINTED_AGENT": "E4",
    "NOT_ADDED_BY_USER": "E4",
    "CHANGE_OF_TENANCY": "E4",
    # E5: the Device's SMI status does not allow the Service Reference
    "STATUS_NOT_ELIGIBLE": "E5",
    "STATUS_RESPONSIBLE_SUPPLIER_ONLY": "E5",
    "DEVICE_DECOMMISSIONED": "E5",
    "DEVICE_SUSPENDED": "E5",
    "DEVICE_WITHDRAWN": "E5",
    "CHF_NOT_COMMISSIONED": "E5",
    "STATUS_UPDATE_NOT_ALLOWED": "E5",
    # E11: the Service Reference does not apply to the Device's type
    "DEVICE_TYPE_NOT_APPLICABLE": "E11",
    "NO_COMMAND_ROUTE": "E11",
    "ORIGINATOR_NOT_ACCEPTED": "E11",
    # E12: the Command Variant does not apply to the request
    NOT_AWAITING_SIGNATURE: "E12",
    "PRECOMMAND_MISMATCH": "E12",
    # E13: the request type is not valid for the URL it was sent to
    WRONG_ENDPOINT: "E13",
    # E19: the Device does not exist
    "DEVICE_NOT_IN_INVENTORY": "E19",
    "TARGET_REQUIRED": "E19",
    # E20: the DCC cannot communicate with the Device
    "LINK_ERROR": "E20",
    "DEVICE_NOT_ADMITTED": "E20",
    # E21: no response from the Device (on demand or future dated)
    "NO_RESPONSE": "E21",
    # E30: a future-dated command timed out
    "FUTURE_DATED_TIMEOUT": "E30",
    # Not in the public table: our choice, documented as such.
    SCHEMA_INVALID: "E100",
    REPLAYED_REQUEST_ID: "E100",
    "UNKNOWN_VARIANT": "E100",
    "NOT_IMPLEMENTED": "E100",
    "INVALID_PARAMETERS": "E100",
    "EXECUTION_TIME_NOT_IN_FUTURE": "E100",
    "EXECUTION_TIME_TOO_FAR": "E100",
    "CATEGORY_NOT_AVAILABLE": "E100",
    "UNKNOWN_PREDECESSOR": "E100",
    "PREDECESSOR_FAILED": "E100",
    "SCHEDULE_NOT_ALLOWED": "E100",
    "SCHEDULE_NOT_FOUND": "E100",
    "LOCAL_RESPONSE_MISMATCH": "E100",
    "DEVICE_ALREADY_IN_INVENTORY": "E100",
    # After acknowledgement: the device answered with a failure (its GBCS response
    # rides in the body); I0 is reserved for success.
    "DEVICE_REJECTED": "E100",
    "COMMAND_NOT_SUPPORTED": "E100",
    "DEVICE_FAILURE": "E100",
}

#: Reasons whose code depends on the Service Reference Variant: (reason, variant) ->
#: code. An image not on the CPL for the device's model: the DUIS schema lets the
#: 11.1 / 11.4 answer carry a `DSPUpdateFirmwareWarning` /
#: `DSPUpdatePPMIDFirmwareWarning` with a `NotApplicableFirmwareDeviceIDList`, and
#: W110101 / W110401 are the only warning codes it defines for those variants. The
#: pairing is read from the schema; no public table confirms it (docs/duis.md).
VARIANT_CODES: dict[tuple[str, str], str] = {
    ("FIRMWARE_NOT_ON_CPL", "11.1"): "W110101",
    ("FIRMWARE_NOT_ON_CPL", "11.4"): "W110401",
}

#: The code for a reason the table does not name (logged by the caller).
OTHER = "E100"


def duis_code(reason: str, variant: str = "") -> str:
    """The DUIS response code for a harness reason, for the variant when the code
    depends on it (`OTHER` when the tables have none)."""
    return VARIANT_CODES.get((reason, variant)) or DUIS_CODES.get(reason, OTHER)
