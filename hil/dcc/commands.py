"""GBCS commands for service requests: the payload each use case carries.

A builder takes the request's parameters and returns the message code, the
payload tree and whether the command is critical; `Sender` numbers, addresses,
signs and MACs it. Payload layouts are the GBCS use case definitions (COSEM
objects and ZCL commands), the same ones the emulated devices implement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.gbcs import builder
from emulator.gbcs.dlms.apdu import AccessRequest, Obis, RequestSpec, SpecKind, invoke_id_for
from emulator.gbcs.dlms.axdr import (
    Array,
    Boolean,
    Data,
    Enum,
    Integer,
    LongUnsigned,
    NullData,
    OctetString,
    Structure,
)
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage
from emulator.gbcs.payload import PayloadTree
from emulator.gbcs.security import MessageSecurity
from emulator.gbcs.zcl.gbz import GbzComponent, GbzPayload, ZclFrame


@dataclass(frozen=True, slots=True)
class Built:
    message_code: int
    payload: PayloadTree
    critical: bool


Builder = Callable[..., Built]


def _request(counter: int, *specs: tuple[RequestSpec, Data]) -> AccessRequest:
    return AccessRequest(invoke_id_for(counter), [s for s, _ in specs], [d for _, d in specs])


def _get(class_id: int, obis: str, attribute: int) -> tuple[RequestSpec, Data]:
    return RequestSpec(SpecKind.GET, class_id, Obis(obis), attribute), NullData()


def _set(class_id: int, obis: str, attribute: int, value: Data) -> tuple[RequestSpec, Data]:
    return RequestSpec(SpecKind.SET, class_id, Obis(obis), attribute), value


def _action(class_id: int, obis: str, method: int, argument: Data) -> tuple[RequestSpec, Data]:
    return RequestSpec(SpecKind.ACTION, class_id, Obis(obis), method), argument


def _protection(counter: int, originator: Eui64, recipient: Eui64) -> Structure:
    """Protection parameters asking for authenticated encryption of the answer."""
    return Structure(
        [
            Enum(2),
            Structure(
                [
                    OctetString(b"\x04" + counter.to_bytes(8, "big")),
                    OctetString(bytes(originator)),
                    OctetString(bytes(recipient)),
                    OctetString(b""),
                    Structure([Enum(2), Structure([OctetString(b"\x02"), OctetString(b"")])]),
                ]
            ),
        ]
    )


def protected_read(
    counter: int,
    originator: Eui64,
    recipient: Eui64,
    objects: list[tuple[int, str, int]],
    data_protection: str,
) -> AccessRequest:
    descriptors = Array(
        [
            Structure(
                [
                    LongUnsigned(c),
                    OctetString(bytes(Obis(o))),
                    Integer(a),
                    LongUnsigned(0),
                    Structure([Enum(0), NullData()]),
                ]
            )
            for c, o, a in objects
        ]
    )
    argument = Structure([descriptors, Array([_protection(counter, originator, recipient)])])
    return _request(counter, _action(30, data_protection, 1, argument))


# -- builders by service reference variant -------------------------------------------------


def read_instantaneous_import(counter: int, originator: Eui64, recipient: Eui64, **_: Any) -> Built:
    """4.1.1 Read Instantaneous Import Registers (ECS17b): a sensitive, encrypted read."""
    payload = protected_read(
        counter, originator, recipient, [(1, "0-0:94.44.34.10", 2)], "0-0:43.2.8.255"
    )
    return Built(0x0027, payload, False)


def read_export_registers(counter: int, originator: Eui64, recipient: Eui64, **_: Any) -> Built:
    """4.2 Read Instantaneous Export Registers (ECS17a)."""
    payload = _request(
        counter,
        _get(3, "1-0:2.8.0.255", 2),
        _get(3, "1-0:2.8.0.255", 3),
        _get(3, "1-0:4.8.0.255", 2),
        _get(3, "1-0:4.8.0.255", 3),
    )
    return Built(0x0026, payload, False)


def _load_switch(code: int, script: int) -> Builder:
    def build(counter: int, originator: Eui64, recipient: Eui64, **_: Any) -> Built:
        payload = _request(counter, _action(9, "0-0:10.0.106.255", 1, LongUnsigned(script)))
        return Built(code, payload, True)

    return build


enable_supply = _load_switch(0x004F, 0x33)  # 7.1 ECS42
disable_supply = _load_switch(0x0050, 0x34)  # 7.2 ECS43 (open the load switch)
arm_supply = _load_switch(0x0051, 0x36)  # 7.3 ECS44


def read_supply_status(counter: int, originator: Eui64, recipient: Eui64, **_: Any) -> Built:
    """7.4 Read Supply Status (ECS45)."""
    return Built(0x0052, _request(counter, _get(70, "0-0:96.3.10.255", 3)), False)


def top_up_esme(counter: int, originator: Eui64, recipient: Eui64, *, utrn: str, **_: Any) -> Built:
    """2.2 Top Up Device on an ESME (CS01a)."""
    payload = _request(counter, _action(115, "0-0:19.40.0.255", 1, OctetString(utrn.encode())))
    return Built(0x0007, payload, False)


def add_device_to_hub(
    counter: int,
    originator: Eui64,
    recipient: Eui64,
    *,
    device: Eui64,
    install_code: bytes = b"0123456789ABCDEF",
    join_timeout: int = 90,
    **_: Any,
) -> Built:
    """8.11 Update HAN Device Log, add (CCS01)."""
    payload = _request(
        counter,
        _action(
            104,
            "0-0:30.3.0.255",
            1,
            Structure([OctetString(bytes(device)), Enum(1), OctetString(install_code), Enum(0)]),
        ),
        _set(104, "0-0:30.3.0.255", 3, LongUnsigned(join_timeout)),
        _set(104, "0-0:30.3.0.255", 2, Boolean(True)),
    )
    return Built(0x0001, payload, False)


def remove_device_from_hub(
    counter: int, originator: Eui64, recipient: Eui64, *, device: Eui64, **_: Any
) -> Built:
    """8.11 Update HAN Device Log, remove (CCS02)."""
    return Built(
        0x0002,
        _request(counter, _action(104, "0-0:30.3.0.255", 2, OctetString(bytes(device)))),
        False,
    )


def read_gas_consumption(counter: int, originator: Eui64, recipient: Eui64, **_: Any) -> Built:
    """4.1.1 on a gas meter (GCS13a): metering cluster read attributes, encrypted answer."""
    frame = ZclFrame(
        0x00,
        counter & 0xFF,
        0x00,
        {"attribute_ids": [0x0302, 0x0301, 0x0300, 0x0000]},
        name="read_attributes",
    )
    return Built(0x0074, GbzPayload([GbzComponent(0x01, 0x0702, frame)]), False)


BUILDERS: dict[str, Builder] = {
    "2.2": top_up_esme,
    "4.1.1": read_instantaneous_import,
    "4.1.1-gas": read_gas_consumption,
    "4.2": read_export_registers,
    "7.1": enable_supply,
    "7.2": disable_supply,
    "7.3": arm_supply,
    "7.4": read_supply_status,
    "8.11-add": add_device_to_hub,
    "8.11-remove": remove_device_from_hub,
}


class Sender:
    """A remote party's side of GBCS: counters, signing and the DCC's MAC.

    `security` must hold the party's signing key and the ACB's key-agreement key
    (the DCC MACs every command it sends on a user's behalf).
    """

    def __init__(
        self, party: Eui64 | str, security: MessageSecurity, *, first_counter: int = 0x1000
    ) -> None:
        self.party = Eui64(party)
        self.security = security
        self.counter = first_counter

    def next_counter(self) -> int:
        self.counter += 1
        return self.counter

    def command(self, variant: str, target: Eui64 | str, **params: Any) -> GbcsMessage:
        built = BUILDERS[variant](self.next_counter(), self.party, Eui64(target), **params)
        return self.protect(built, target)

    def protect(self, built: Built, target: Eui64 | str) -> GbcsMessage:
        counter = self.counter
        msg = builder.command(built.message_code, counter, self.party, Eui64(target), built.payload)
        return builder.protect(msg, self.security, critical=built.critical)
