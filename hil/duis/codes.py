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
DUIS_CODES: dict[str, str] = {
    "I0": SUCCESS,
    "I99": ACKNOWLEDGED,
    # front door
    UNKNOWN_USER: "E1",
    "USER_NOT_IN_ROLE": "E2",
    "ROLE_NOT_ELIGIBLE": "E2",
    SIGNATURE_INVALID: "E3",
    SCHEMA_INVALID: "E4",
    REPLAYED_REQUEST_ID: "E5",
    WRONG_ENDPOINT: "E4",
    # eligibility and inventory
    "DEVICE_NOT_IN_INVENTORY": "E11",
    "TARGET_REQUIRED": "E11",
    "NOT_RESPONSIBLE_SUPPLIER": "E12",
    "NOT_REGISTERED_NETWORK_OPERATOR": "E12",
    "NOT_LEAD_SUPPLIER": "E12",
    "NOT_APPOINTED_AGENT": "E12",
    "NOT_ADDED_BY_USER": "E12",
    "STATUS_NOT_ELIGIBLE": "E13",
    "STATUS_RESPONSIBLE_SUPPLIER_ONLY": "E13",
    "DEVICE_DECOMMISSIONED": "E13",
    "DEVICE_SUSPENDED": "E13",
    "CHF_NOT_COMMISSIONED": "E13",
    "STATUS_UPDATE_NOT_ALLOWED": "E13",
    "DEVICE_TYPE_NOT_APPLICABLE": "E17",
    "NO_COMMAND_ROUTE": "E17",
    "ORIGINATOR_NOT_ACCEPTED": "E17",
    "SERVICE_NOT_USED": "E19",
    "UNKNOWN_VARIANT": "E19",
    "NOT_IMPLEMENTED": "E19",
    "INVALID_PARAMETERS": "E20",
    "EXECUTION_TIME_NOT_IN_FUTURE": "E21",
    "EXECUTION_TIME_TOO_FAR": "E21",
    "UNKNOWN_PREDECESSOR": "E30",
    "PREDECESSOR_FAILED": "E31",
    "SCHEDULE_NOT_ALLOWED": "E40",
    "SCHEDULE_NOT_FOUND": "E41",
    "DEVICE_ALREADY_IN_INVENTORY": "E42",
    NOT_AWAITING_SIGNATURE: "E43",
    "PRECOMMAND_MISMATCH": "E44",
    "CHANGE_OF_TENANCY": "E45",
    # after acknowledgement: the device's or the network's answer
    "DEVICE_REJECTED": "E50",
    "COMMAND_NOT_SUPPORTED": "E51",
    "DEVICE_NOT_ADMITTED": "E52",
    "NO_RESPONSE": "E53",
    "LINK_ERROR": "E54",
    "DEVICE_FAILURE": "E55",
}

#: The code for a reason the table does not name (logged by the caller).
OTHER = "E100"


def duis_code(reason: str) -> str:
    """The DUIS response code for a harness reason (`OTHER` when the table has none)."""
    return DUIS_CODES.get(reason, OTHER)
