"""COSEM objects of the Communications Hub Function.

The objects GBCS use cases read, write and invoke on this device type, with the
A-XDR type of each attribute and method (GBCS data model tables; each type checked
against the reference messages, which are never read at run time). Values here
are our factory defaults: zeros and blanks of the right type and size; devices
replace them as commands and metering change their state. Behaviour beyond
"store what is written, return what is stored" is in the device module.
"""

from __future__ import annotations

from emulator.devices.cosem.model import (
    BITS,
    BOOL,
    CA,
    I8,
    NULL,
    OS,
    U8,
    U16,
    U32,
    A,
    CosemModel,
    E,
    S,
    obj,
)

OBJECTS = [
    obj(
        1,
        "0-0:94.44.10.0",
        {
            2: S(
                BITS(32),
                BITS(32),
                BITS(32),
                BITS(32),
                U16,
                U16,
                U8,
                U16,
                U8,
                U8,
                U16,
                U8,
                U16,
                U16,
                U16,
            )
        },
        writable=(2,),
    ),
    obj(1, "0-0:94.44.10.1", {2: U8}, writable=(2,)),
    obj(1, "0-0:94.44.10.2", {2: BITS(32)}),
    obj(1, "0-0:0.2.1.255", {2: OS(4)}),  # ECS52 on the hub: its firmware version
    obj(1, "0-0:96.1.1.255", {2: OS(8)}),
    obj(1, "0-0:96.1.4.255", {2: OS(8)}),
    obj(1, "0-0:96.1.6.255", {2: OS(3)}),
    obj(7, "0-0:94.44.10.3", {2: CA(S(U32, U16, OS(7)))}, selectors=((2, 1),)),
    obj(7, "0-0:99.98.0.255", {2: CA(S(U32, U16, OS(2)))}, selectors=((2, 1),)),
    obj(7, "0-0:99.98.1.255", {2: CA(S(U32, U16))}, selectors=((2, 1),)),
    obj(
        104,
        "0-0:30.3.0.255",
        {
            2: BOOL,
            3: U16,
            4: A(
                S(OS(8), BITS(8), I8, I8, I8, U8, U8, U8, OS(12), U8, U8, U8, U8, U8),
                S(OS(8), BITS(8), I8, I8, I8, U8, U8, U8, OS(12), U8, U8, U8, U8, U8),
            ),
        },
        writable=(2, 3),
        methods={
            1: (S(OS(8), E, OS(16), E), NULL),
            2: (OS(8), NULL),
            4: (NULL, S(OS(12), OS(8), A(S(OS(8), OS(16)), S(OS(8), OS(16))))),
            5: (S(OS(8), A(S(OS(8), OS(16)), S(OS(8), OS(16)))), NULL),
        },
    ),
    obj(
        104,
        "0-0:30.3.1.255",
        {},
        methods={4: (NULL, S(OS(12), OS(8), A(S(OS(8), OS(16)), S(OS(8), OS(16)))))},
    ),
]

MODEL = CosemModel(OBJECTS)
