"""COSEM objects of the ESME (single, twin element and polyphase, with auxiliary controllers).

The objects GBCS use cases read, write and invoke on this device type, with the
A-XDR type of each attribute and method (GBCS data model tables; each type checked
against the reference messages, which are never read at run time). Values here
are our factory defaults: zeros and blanks of the right type and size; devices
replace them as commands and metering change their state. Behaviour beyond
"store what is written, return what is stored" is in the device module.
"""

from __future__ import annotations

from emulator.devices.cosem.model import (
    AN,
    BITS,
    BOOL,
    CA,
    I8,
    I16,
    I32,
    NULL,
    OS,
    U8,
    U16,
    U32,
    UTF8,
    VS,
    A,
    CosemModel,
    E,
    S,
    obj,
)

OBJECTS = [
    obj(1, "0-0:0.2.1.255", {2: OS(4)}),
    obj(1, "0-0:94.44.0.0", {2: U16}),
    obj(1, "0-0:94.44.0.1", {2: U16}, writable=(2,)),
    obj(1, "0-0:94.44.0.11", {2: VS(18)}, writable=(2,)),
    obj(1, "0-0:94.44.0.12", {2: VS(20)}, writable=(2,)),
    obj(1, "0-0:94.44.0.13", {2: VS(18)}, writable=(2,)),
    obj(1, "0-0:94.44.0.14", {2: VS(18)}, writable=(2,)),
    obj(1, "0-0:94.44.0.15", {2: VS(18)}, writable=(2,)),
    obj(1, "0-0:94.44.0.2", {2: U16}),
    obj(1, "0-0:94.44.0.21", {2: OS(8)}, writable=(2,)),
    obj(1, "0-0:94.44.0.22", {2: OS(8)}, writable=(2,)),
    obj(1, "0-0:94.44.0.23", {2: OS(1)}, writable=(2,)),
    obj(1, "0-0:94.44.0.24", {2: OS(0)}, writable=(2,)),
    obj(1, "0-0:94.44.0.25", {2: OS(8)}, writable=(2,)),
    obj(1, "0-0:94.44.0.31", {2: UTF8(35)}),
    obj(1, "0-0:94.44.0.32", {2: UTF8(59)}),
    obj(1, "0-0:94.44.0.33", {2: UTF8(61)}),
    obj(1, "0-0:94.44.0.34", {2: UTF8(2)}),
    obj(1, "0-0:94.44.0.35", {2: UTF8(39)}),
    obj(1, "0-0:94.44.0.4", {2: BOOL}, writable=(2,)),
    obj(1, "0-0:94.44.117.1", {2: OS(12)}, writable=(2,), alternatives={2: (U16,)}),
    obj(1, "0-0:94.44.117.2", {2: OS(12)}, writable=(2,)),
    obj(1, "0-0:94.44.119.1", {2: OS(12)}, writable=(2,)),
    obj(1, "0-0:94.44.119.2", {2: OS(12)}, writable=(2,), alternatives={2: (U16,)}),
    obj(1, "0-0:94.44.119.3", {2: OS(12)}, writable=(2,)),
    obj(1, "0-0:94.44.119.4", {2: OS(12)}, writable=(2,)),
    obj(1, "0-0:94.44.121.1", {2: OS(12)}, writable=(2,)),
    obj(1, "0-0:94.44.121.2", {2: OS(12)}, writable=(2,)),
    obj(1, "0-0:94.44.121.3", {2: OS(12)}, writable=(2,)),
    obj(1, "0-0:94.44.121.4", {2: OS(12)}, writable=(2,)),
    obj(1, "0-0:94.44.3.1", {2: OS(0)}, writable=(2,)),
    obj(1, "0-0:94.44.3.2", {2: OS(12)}, writable=(2,)),
    obj(1, "0-0:94.44.34.1", {2: S(AN(48, U32))}, protected=True),
    obj(1, "0-0:94.44.34.10", {2: S(U32, S(I8, E), U32, S(I8, E))}, protected=True),
    obj(1, "0-0:94.44.34.11", {2: OS(13)}, writable=(2,)),
    obj(1, "0-0:94.44.34.2", {2: S(AN(64, U32))}, protected=True),
    obj(1, "0-0:94.44.34.20", {2: S(U32, S(I8, E), U32)}),
    obj(1, "0-0:94.44.34.30", {2: S(I32, I32, I32, I32, I32, I32)}, protected=True),
    obj(1, "0-0:94.44.5.0", {2: OS(12)}),
    obj(1, "0-0:94.44.5.1", {2: OS(12)}),
    obj(1, "0-0:94.44.5.2", {2: OS(12)}),
    obj(1, "0-0:94.44.6.1", {2: BOOL}, writable=(2,)),
    obj(1, "0-0:94.44.6.2", {2: BOOL}, writable=(2,)),
    obj(1, "0-0:94.44.6.3", {2: BOOL}, writable=(2,)),
    obj(1, "0-0:94.44.6.4", {2: BOOL}, writable=(2,)),
    obj(1, "0-0:94.44.6.5", {2: BOOL}, writable=(2,)),
    obj(1, "0-0:94.44.7.255", {2: BOOL}),
    obj(1, "0-0:96.1.1.255", {2: OS(8)}),
    obj(1, "0-0:96.1.2.255", {2: OS(1)}),
    obj(1, "0-0:96.1.4.255", {2: OS(8)}),
    obj(1, "0-0:96.1.6.255", {2: OS(3)}),
    obj(1, "0-2:96.13.1.255", {2: OS(5)}, writable=(2,)),
    obj(1, "0-30:97.98.11.255", {2: BITS(512)}, writable=(2,)),
    obj(1, "0-30:97.98.12.255", {2: BITS(512)}, writable=(2,)),
    obj(1, "0-30:97.98.13.255", {2: BITS(512)}, writable=(2,)),
    obj(1, "0-30:97.98.14.255", {2: BITS(512)}, writable=(2,)),
    obj(1, "0-30:97.98.15.255", {2: BITS(256)}),
    obj(1, "0-30:97.98.16.255", {2: BITS(256)}),
    obj(1, "0-30:97.98.17.255", {2: BITS(256)}),
    obj(1, "0-30:97.98.18.255", {2: BITS(256)}),
    obj(1, "0-33:97.98.11.255", {2: BITS(512)}, writable=(2,)),
    obj(1, "0-33:97.98.14.255", {2: BITS(512)}, writable=(2,)),
    obj(1, "0-33:97.98.15.255", {2: BITS(256)}),
    obj(1, "0-33:97.98.18.255", {2: BITS(256)}),
    obj(1, "0-3:96.13.1.255", {2: OS(4)}, writable=(2,)),
    obj(1, "1-0:0.0.2.255", {2: OS(13)}, writable=(2,)),
    obj(1, "1-0:32.31.0.4", {2: U32}, writable=(2,)),
    obj(1, "1-0:32.35.0.4", {2: U32}, writable=(2,)),
    obj(1, "1-0:52.31.0.4", {2: U32}, writable=(2,)),
    obj(1, "1-0:52.35.0.4", {2: U32}, writable=(2,)),
    obj(1, "1-0:72.31.0.4", {2: U32}, writable=(2,)),
    obj(1, "1-0:72.35.0.4", {2: U32}, writable=(2,)),
    obj(3, "0-0:94.44.1.7", {2: U32, 3: S(I8, E)}),
    obj(3, "0-0:94.44.1.8", {2: U32, 3: S(I8, E)}),
    obj(3, "0-0:94.44.42.255", {2: U32, 3: S(I8, E)}, methods={1: (I8, NULL)}),
    obj(3, "1-0:2.8.0.255", {2: U32, 3: S(I8, E)}),
    obj(3, "1-0:32.32.0.4", {2: U32, 3: S(I8, E)}, methods={1: (I8, NULL)}),
    obj(3, "1-0:32.36.0.4", {2: U32, 3: S(I8, E)}, methods={1: (I8, NULL)}),
    obj(3, "1-0:4.8.0.255", {2: U32, 3: S(I8, E)}),
    obj(3, "1-0:52.32.0.4", {2: U32, 3: S(I8, E)}, methods={1: (I8, NULL)}),
    obj(3, "1-0:52.36.0.4", {2: U32, 3: S(I8, E)}, methods={1: (I8, NULL)}),
    obj(3, "1-0:72.32.0.4", {2: U32, 3: S(I8, E)}, methods={1: (I8, NULL)}),
    obj(3, "1-0:72.36.0.4", {2: U32, 3: S(I8, E)}, methods={1: (I8, NULL)}),
    obj(4, "1-0:1.6.0.255", {2: U32, 3: S(I8, E), 5: OS(12)}, methods={1: (I8, NULL)}),
    obj(4, "1-0:1.6.1.255", {2: U32, 3: S(I8, E), 5: OS(12)}, methods={1: (I8, NULL)}),
    obj(4, "1-0:2.6.0.255", {2: U32, 3: S(I8, E), 5: OS(12)}, methods={1: (I8, NULL)}),
    obj(
        7,
        "0-0:98.1.0.255",
        {2: CA(S(U32, U32, AN(48, U32), AN(8, U32), AN(8, U32), AN(8, U32), AN(8, U32)))},
        protected=True,
    ),
    obj(7, "0-0:98.1.1.255", {2: CA(S(U32, I32, I32, I32, I32, I32, I32))}, protected=True),
    obj(7, "0-0:98.1.10.255", {2: CA(S(U32, U32))}, selectors=((2, 1),)),
    obj(
        7,
        "0-0:98.1.2.255",
        {
            2: CA(
                S(
                    U32,
                    U32,
                    AN(48, U32),
                    AN(8, U32),
                    AN(8, U32),
                    AN(8, U32),
                    AN(8, U32),
                    I32,
                    I32,
                    I32,
                    I32,
                    I32,
                    I32,
                )
            )
        },
        protected=True,
    ),
    obj(7, "0-0:98.1.4.255", {2: CA(S(U32, U32))}, selectors=((2, 1),)),
    obj(7, "0-0:98.1.5.255", {2: CA(S(U32, U32))}, selectors=((2, 1),)),
    obj(7, "0-0:98.1.8.255", {2: CA(S(U32, I32, I32, I32, I32, I32, I32))}, protected=True),
    obj(
        7,
        "0-0:98.1.9.255",
        {2: CA(S(U32, U32, AN(48, U32), AN(8, U32), AN(8, U32), AN(8, U32), AN(8, U32)))},
        protected=True,
    ),
    obj(7, "0-0:99.1.0.255", {2: CA(S(U32, U32))}, protected=True),
    obj(7, "0-0:99.1.1.255", {2: CA(S(U32, U32, U32))}, selectors=((2, 1),)),
    obj(7, "0-0:99.1.2.255", {2: CA(S(U32, U32))}, selectors=((2, 1),)),
    obj(7, "0-0:99.1.3.255", {2: CA(S(U32, U32))}, protected=True),
    obj(
        7,
        "0-0:99.98.0.255",
        {2: CA(S(U32, U16, OS(0)))},
        methods={1: (I8, NULL)},
        selectors=((2, 1),),
    ),
    obj(7, "0-0:99.98.1.255", {2: CA(S(U32, U16))}, selectors=((2, 1),)),
    obj(7, "0-0:99.98.20.255", {2: CA(S(U32, U32))}, selectors=((2, 1),)),
    obj(7, "0-0:99.98.4.255", {2: CA(S(U32, U16, U32))}, selectors=((2, 1),)),
    obj(
        7,
        "0-17:99.98.2.255",
        {2: CA(S(U32, U16, E, U32))},
        methods={1: (I8, NULL)},
        selectors=((2, 1),),
    ),
    obj(7, "1-0:32.24.0.255", {2: CA(S(U32, U32)), 4: U32}, writable=(4,), selectors=((2, 1),)),
    obj(7, "1-0:52.24.0.255", {2: CA(S(U32, U32)), 4: U32}, writable=(4,), selectors=((2, 1),)),
    obj(7, "1-0:72.24.0.255", {2: CA(S(U32, U32)), 4: U32}, writable=(4,), selectors=((2, 1),)),
    obj(
        8,
        "0-0:1.0.0.255",
        {2: OS(12), 4: U8, 9: E},
        writable=(9,),
        methods={4: (I8, NULL), 5: (S(OS(12), OS(12), OS(12)), NULL)},
    ),
    obj(9, "0-0:10.0.100.255", {}, methods={1: (U16, NULL)}),
    obj(9, "0-0:10.0.103.255", {}, methods={1: (U16, NULL)}),
    obj(9, "0-0:10.0.106.255", {}, methods={1: (U16, NULL)}),
    obj(9, "0-0:10.0.107.255", {}, methods={1: (U16, NULL)}),
    obj(
        10,
        "0-0:12.0.0.255",
        {
            2: A(
                S(U16, BOOL, OS(6), U16, OS(4), U16, BITS(7), BITS(0), OS(5), OS(5)),
                S(U16, BOOL, OS(6), U16, OS(4), U16, BITS(7), BITS(0), OS(5), OS(5)),
            )
        },
        writable=(2,),
    ),
    obj(
        10,
        "0-0:12.0.1.255",
        {2: AN(6, S(U16, BOOL, OS(6), U16, OS(4), U16, BITS(7), BITS(4), OS(5), OS(5)))},
    ),
    obj(
        10,
        "0-0:12.0.2.255",
        {2: AN(6, S(U16, BOOL, OS(6), U16, OS(4), U16, BITS(7), BITS(3), OS(5), OS(5)))},
    ),
    obj(
        10,
        "0-1:12.0.1.255",
        {2: AN(16, S(U16, BOOL, OS(6), U16, OS(4), U16, BITS(7), BITS(5), OS(5), OS(5)))},
        writable=(2,),
    ),
    obj(
        10,
        "0-1:12.0.2.255",
        {2: AN(6, S(U16, BOOL, OS(6), U16, OS(4), U16, BITS(7), BITS(4), OS(5), OS(5)))},
        writable=(2,),
    ),
    obj(11, "0-0:11.0.0.255", {2: A(S(U16, OS(5), U8), S(U16, OS(5), U8))}),
    obj(11, "0-0:11.0.1.255", {2: AN(3, S(U16, OS(5), U8))}),
    obj(11, "0-0:11.0.2.255", {2: AN(4, S(U16, OS(5), U8))}),
    obj(11, "0-0:11.0.3.255", {2: AN(3, S(U16, OS(5), U8))}),
    obj(11, "0-1:11.0.0.255", {2: A(S(U16, OS(5), U8), S(U16, OS(5), U8))}, writable=(2,)),
    obj(11, "0-1:11.0.1.255", {2: A(S(U16, OS(5), U8), S(U16, OS(5), U8))}, writable=(2,)),
    obj(11, "0-1:11.0.2.255", {2: AN(5, S(U16, OS(5), U8))}, writable=(2,)),
    obj(11, "0-1:11.0.3.255", {2: AN(4, S(U16, OS(5), U8))}, writable=(2,)),
    obj(
        20,
        "0-0:13.0.0.255",
        {
            3: A(S(OS(3), OS(12), OS(1))),
            4: A(S(OS(1), U8, U8, U8, U8, U8, U8, U8)),
            5: A(
                S(U8, A(S(OS(4), OS(6), U16), S(OS(4), OS(6), U16))), S(U8, A(S(OS(4), OS(6), U16)))
            ),
            7: A(S(OS(6), OS(12), OS(1)), S(OS(6), OS(12), OS(1))),
            8: A(S(OS(1), U8, U8, U8, U8, U8, U8, U8), S(OS(1), U8, U8, U8, U8, U8, U8, U8)),
            9: A(
                S(U8, A(S(OS(4), OS(6), U16), S(OS(4), OS(6), U16))),
                S(U8, A(S(OS(4), OS(6), U16), S(OS(4), OS(6), U16))),
                S(U8, A(S(OS(4), OS(6), U16))),
            ),
            10: OS(12),
        },
        writable=(7, 8, 9, 10),
    ),
    obj(
        20,
        "0-0:13.0.1.255",
        {
            3: A(
                S(OS(6), OS(12), OS(1)),
                S(OS(6), OS(12), OS(1)),
                S(OS(4), OS(12), OS(1)),
                S(OS(6), OS(12), OS(1)),
            ),
            4: A(S(OS(1), U8, U8, U8, U8, U8, U8, U8), S(OS(1), U8, U8, U8, U8, U8, U8, U8)),
            5: AN(4, S(U8, A(S(OS(4), OS(6), U16), S(OS(4), OS(6), U16)))),
            7: A(S(OS(6), OS(12), OS(1)), S(OS(6), OS(12), OS(1))),
            8: A(S(OS(1), U8, U8, U8, U8, U8, U8, U8), S(OS(1), U8, U8, U8, U8, U8, U8, U8)),
            9: A(
                S(U8, AN(3, S(OS(4), OS(6), U16))),
                S(U8, AN(3, S(OS(4), OS(6), U16))),
                S(U8, A(S(OS(4), OS(6), U16))),
            ),
            10: OS(12),
        },
        writable=(7, 8, 9, 10),
    ),
    obj(21, "0-0:16.0.0.255", {2: A(U32, U32)}, writable=(2,)),
    obj(21, "0-0:16.0.1.255", {2: A(I32)}),
    obj(21, "0-0:16.0.11.255", {2: AN(3, U32)}),
    obj(21, "0-0:16.0.12.255", {2: AN(3, U32)}),
    obj(21, "0-0:16.0.13.255", {2: AN(3, U32)}),
    obj(21, "0-0:16.0.14.255", {2: AN(3, U32)}),
    obj(21, "0-0:16.0.15.255", {2: AN(3, U32)}),
    obj(21, "0-0:16.0.16.255", {2: AN(3, U32)}),
    obj(21, "0-0:16.0.17.255", {2: AN(3, U32)}),
    obj(21, "0-0:16.0.18.255", {2: AN(3, U32)}),
    obj(21, "0-0:16.1.11.255", {2: A(U32, U32)}, writable=(2,)),
    obj(21, "0-0:16.1.12.255", {2: A(U32, U32)}, writable=(2,)),
    obj(21, "0-0:16.1.13.255", {2: A(U32)}, writable=(2,)),
    obj(21, "0-0:16.1.14.255", {2: A(U32)}, writable=(2,)),
    obj(21, "0-0:16.1.15.255", {2: A(U32)}, writable=(2,)),
    obj(21, "0-0:16.1.16.255", {2: A(U32)}, writable=(2,)),
    obj(21, "0-0:16.1.17.255", {2: A(U32)}, writable=(2,)),
    obj(21, "0-0:16.1.18.255", {2: A(U32)}, writable=(2,)),
    obj(22, "0-0:15.0.0.255", {4: A(S(OS(4), OS(5)))}, writable=(4,)),
    obj(22, "0-0:15.1.0.255", {4: A(S(OS(4), OS(5)))}, writable=(4,)),
    obj(
        30,
        "0-0:43.2.1.255",
        {},
        methods={
            1: (
                S(
                    A(S(U16, OS(6), I8, U16, S(E, NULL))),
                    A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))),
                ),
                S(A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))), OS(51)),
            )
        },
    ),
    obj(
        30,
        "0-0:43.2.10.255",
        {},
        methods={
            1: (
                S(
                    A(S(U16, OS(6), I8, U16, S(E, NULL))),
                    A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))),
                ),
                S(A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))), OS(343)),
            )
        },
    ),
    obj(
        30,
        "0-0:43.2.2.255",
        {},
        methods={
            1: (
                S(
                    A(
                        S(U16, OS(6), I8, U16, S(E, S(OS(12), OS(12)))),
                        S(U16, OS(6), I8, U16, S(E, S(OS(12), OS(12)))),
                    ),
                    A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))),
                ),
                S(A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))), OS(770)),
            )
        },
    ),
    obj(
        30,
        "0-0:43.2.3.255",
        {},
        methods={
            1: (
                S(
                    A(S(U16, OS(6), I8, U16, S(E, S(OS(12), OS(12))))),
                    A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))),
                ),
                S(A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))), OS(1109)),
            )
        },
    ),
    obj(
        30,
        "0-0:43.2.4.255",
        {},
        methods={
            1: (
                S(
                    A(S(U16, OS(6), I8, U16, S(E, S(OS(12), OS(12))))),
                    A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))),
                ),
                S(A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))), OS(57)),
            )
        },
    ),
    obj(
        30,
        "0-0:43.2.5.255",
        {},
        methods={
            1: (
                S(
                    A(S(U16, OS(6), I8, U16, S(E, S(OS(12), OS(12))))),
                    A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))),
                ),
                S(A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))), OS(1031)),
            )
        },
    ),
    obj(
        30,
        "0-0:43.2.6.255",
        {},
        methods={
            1: (
                S(
                    A(S(U16, OS(6), I8, U16, S(E, S(OS(12), OS(12))))),
                    A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))),
                ),
                S(A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))), OS(227)),
            )
        },
    ),
    obj(
        30,
        "0-0:43.2.7.255",
        {},
        methods={
            1: (
                S(
                    A(S(U16, OS(6), I8, U16, S(E, S(OS(12), OS(12))))),
                    A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))),
                ),
                S(A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))), OS(419)),
            )
        },
    ),
    obj(
        30,
        "0-0:43.2.8.255",
        {},
        methods={
            1: (
                S(
                    A(S(U16, OS(6), I8, U16, S(E, NULL))),
                    A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))),
                ),
                S(A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))), OS(43)),
            )
        },
    ),
    obj(
        30,
        "0-0:43.2.9.255",
        {},
        methods={
            1: (
                S(
                    A(S(U16, OS(6), I8, U16, S(E, NULL))),
                    A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))),
                ),
                S(A(S(E, S(OS(9), OS(8), OS(8), OS(0), S(E, S(OS(1), OS(0)))))), OS(263)),
            )
        },
    ),
    obj(70, "0-0:96.3.10.255", {3: E}),
    obj(70, "0-1:96.3.10.255", {2: BOOL}),
    obj(70, "0-2:96.3.10.255", {2: BOOL}),
    obj(70, "0-3:96.3.10.255", {2: BOOL}),
    obj(70, "0-4:96.3.10.255", {2: BOOL}),
    obj(70, "0-5:96.3.10.255", {2: BOOL}),
    obj(71, "0-0:17.0.0.255", {4: U32, 6: U32, 7: U32}),
    obj(71, "0-0:17.0.1.255", {4: U32, 6: U32}, writable=(4, 6)),
    obj(71, "0-0:17.0.2.255", {4: U32, 6: U32}, writable=(4, 6)),
    obj(71, "0-0:17.0.3.255", {4: U32, 6: U32}, writable=(4, 6)),
    obj(71, "0-0:17.0.4.255", {4: U32, 6: U32}, writable=(4, 6)),
    obj(
        111,
        "0-0:19.0.0.255",
        {2: S(E, E), 11: AN(13, S(OS(6), OS(6), BITS(3))), 16: I32, 18: U16, 19: I32},
    ),
    obj(
        111,
        "0-1:19.0.0.255",
        {2: S(E, E), 11: AN(3, S(OS(6), OS(6), BITS(3))), 13: OS(12)},
        writable=(2, 11, 13),
    ),
    obj(112, "0-0:19.10.0.255", {2: I32}, methods={1: (I32, NULL), 2: (I32, NULL)}),
    obj(112, "0-0:19.10.1.255", {9: I32, 10: I32}, methods={2: (I32, NULL), 3: (I8, NULL)}),
    obj(112, "0-0:19.10.2.255", {}, methods={2: (I32, NULL)}),
    obj(
        113,
        "0-0:19.20.0.255",
        {
            5: S(S(I8, I8), S(U16, OS(6), I8), AN(80, S(OS(1), I16))),
            6: S(S(I8, I8), S(U16, OS(6), I8), AN(80, S(OS(1), I16))),
            7: OS(12),
        },
        writable=(6, 7),
    ),
    obj(
        113,
        "0-0:19.20.1.255",
        {
            5: S(S(I8, I8), S(U16, OS(6), I8), A(S(OS(0), I16))),
            6: S(S(I8, I8), S(U16, OS(6), I8), A(S(OS(0), I16))),
            8: U32,
        },
        writable=(6, 8),
        methods={2: (I8, NULL), 4: (I32, NULL)},
    ),
    obj(
        113,
        "0-0:19.20.2.255",
        {
            5: S(S(I8, I8), S(U16, OS(6), I8), A(S(OS(0), I16))),
            6: S(S(I8, I8), S(U16, OS(6), I8), A(S(OS(0), I16))),
            8: U32,
        },
        writable=(6, 8),
        methods={2: (I8, NULL), 4: (I32, NULL)},
    ),
    obj(113, "0-0:19.20.3.255", {13: U16}, writable=(13,), methods={4: (I32, NULL)}),
    obj(
        113,
        "0-0:19.20.4.255",
        {
            5: S(S(I8, I8), S(U16, OS(6), I8), A(S(OS(0), I16))),
            6: S(S(I8, I8), S(U16, OS(6), I8), A(S(OS(0), I16))),
            7: OS(12),
        },
        writable=(6, 7),
    ),
    obj(
        113,
        "0-0:19.20.5.255",
        {
            5: S(S(I8, I8), S(U16, OS(6), I8), AN(4, S(OS(1), I16))),
            6: S(S(I8, I8), S(U16, OS(6), I8), AN(4, S(OS(1), I16))),
            7: OS(12),
        },
        writable=(6, 7),
    ),
    obj(115, "0-0:19.40.0.255", {}, methods={1: (OS(20), NULL)}),
    obj(9000, "0-0:63.1.1.255", {6: OS(12)}, writable=(6,)),
    obj(9000, "0-0:94.44.0.3", {2: BOOL, 4: BOOL, 6: OS(12)}, writable=(4, 6)),
    obj(9000, "0-0:94.44.128.12", {4: U16, 6: OS(12)}, writable=(4, 6)),
    obj(9000, "0-0:94.44.128.13", {4: I32, 6: OS(12)}, writable=(4, 6)),
    obj(9000, "0-0:94.44.128.2", {4: I32, 6: OS(12)}, writable=(4, 6)),
    obj(9000, "0-0:94.44.128.22", {4: I32, 6: OS(12)}, writable=(4, 6)),
    obj(9000, "0-0:94.44.128.26", {6: OS(12)}, writable=(6,)),
    obj(9000, "0-0:94.44.128.28", {6: OS(12)}, writable=(6,)),
    obj(9000, "0-0:94.44.128.29", {6: OS(12)}, writable=(6,)),
    obj(9000, "0-0:94.44.128.3", {4: I32, 6: OS(12)}, writable=(4, 6)),
    obj(9000, "0-0:94.44.128.30", {6: OS(12)}, writable=(6,)),
    obj(9000, "0-0:94.44.128.31", {6: OS(12)}, writable=(6,)),
    obj(9000, "0-0:94.44.128.35", {6: OS(12)}, writable=(6,)),
    obj(9000, "0-0:94.44.128.6", {4: U32, 6: OS(12)}, writable=(4, 6)),
    obj(9000, "0-0:94.44.128.7", {4: U32, 6: OS(12)}, writable=(4, 6)),
    obj(9000, "0-0:94.44.128.8", {4: U32, 6: OS(12)}, writable=(4, 6)),
    obj(9000, "0-0:94.44.128.9", {4: I32, 6: OS(12)}, writable=(4, 6)),
    obj(9000, "0-0:94.44.2.0", {2: BOOL, 4: BOOL, 6: OS(12)}, writable=(4, 6)),
    obj(9000, "0-0:94.44.2.10", {2: I32, 4: I32, 6: OS(12)}, writable=(4, 6)),
    obj(9000, "0-0:94.44.2.20", {2: I32, 4: I32, 6: OS(12)}, writable=(2, 4, 6)),
    obj(9000, "0-0:96.13.0.255", {2: OS(13)}, writable=(2,)),
    obj(9000, "0-0:96.13.1.255", {2: OS(4)}, writable=(2,)),
]

MODEL = CosemModel(OBJECTS)
