"""DUIS end to end over HTTP on 127.0.0.1: signed reads in, signed responses out.

    python bench/duis.py [--requests N] [--concurrency C] [--keys ZAZ1.json] [--schema DIR]

Prints one JSON line: {"requests", "concurrency", "requests_per_s", "p95_response_s",
"p50_response_s", "failures"}. Each request is a 4.1.1 read of the demo lab's ESME,
signed here with the ZAZ1 supplier's XML key (as a DCC Boxed user signs), POSTed to
/api/v1/serviceS; the DCC validates it against the DUIS schema, checks the
signature, answers I99 (signed), reads the meter and POSTs the signed DUIS response
to a response address served here. `requests_per_s` is N over the time from the
first POST to the last response received; `p95_response_s` is the 95th percentile
of POST-to-response times. The lab runs on its virtual clock, so the figures are
the DUIS and DCC layers' own cost (XML, schema, signatures, GBCS), not a meter's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time

import aiohttp
from lxml import etree

from emulator.gbcs.eui import Eui64
from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.duis.cli import keys_path, schema_path
from hil.duis.receiver import ResponseReceiver
from hil.duis.server import DuisServer
from hil.duis.signing import XmlCredentials, sign
from hil.duis.xml import load_schema, parse, q

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
ESME = "00-DB-12-34-56-78-90-A0"
READ = """<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"
 schemaVersion="5.4"><sr:Header><sr:RequestID>{rid}</sr:RequestID>
 <sr:CommandVariant>1</sr:CommandVariant><sr:ServiceReference>4.1</sr:ServiceReference>
 <sr:ServiceReferenceVariant>4.1.1</sr:ServiceReferenceVariant></sr:Header>
 <sr:Body><sr:ReadInstantaneousImportRegisters/></sr:Body></sr:Request>"""


async def run(requests: int, concurrency: int, keys: str | None, schema: str | None) -> dict:
    creds = XmlCredentials.from_zaz1(keys_path(keys))
    user = creds.user(Eui64(SUPPLIER))
    assert user is not None
    arrived: dict[str, float] = {}
    done = asyncio.Event()

    def take(body: bytes) -> None:
        rid = str(parse(body).findtext(f"{q('Header')}/{q('RequestID')}"))
        arrived[rid] = time.perf_counter()
        if len(arrived) >= requests:
            done.set()

    async with ResponseReceiver(on_body=take) as receiver:
        lab = Lab.load(DEFAULT_LAB)
        sent: dict[str, float] = {}
        failures = 0
        async with lab:
            assert lab.dcc is not None
            server = DuisServer(
                lab.dcc,
                creds,
                load_schema(schema_path(schema)),
                response_url=receiver.url,
            )
            url = await server.start("127.0.0.1", 0)
            queue: asyncio.Queue[int] = asyncio.Queue()
            for n in range(requests):
                queue.put_nowait(n + 1)

            async def worker(session: aiohttp.ClientSession) -> None:
                nonlocal failures
                while not queue.empty():
                    n = queue.get_nowait()
                    rid = f"{SUPPLIER}:{ESME}:{n}"
                    body = sign(etree.fromstring(READ.format(rid=rid).encode()), user)
                    sent[rid] = time.perf_counter()
                    async with session.post(f"{url}/api/v1/serviceS", data=body) as reply:
                        ack = parse(await reply.read())
                    if ack.findtext(f"{q('Header')}/{q('ResponseCode')}") != "I99":
                        failures += 1

            start = time.perf_counter()
            async with aiohttp.ClientSession() as session:
                await asyncio.gather(*(worker(session) for _ in range(concurrency)))
            with contextlib.suppress(TimeoutError):  # missing responses count as failures
                await asyncio.wait_for(done.wait(), 120)
            elapsed = time.perf_counter() - start
            await server.stop()
    times = sorted(arrived[r] - sent[r] for r in arrived if r in sent)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))] if times else None
    return {
        "requests": requests,
        "concurrency": concurrency,
        "responses": len(times),
        "requests_per_s": round(len(times) / elapsed, 1),
        "p50_response_s": round(statistics.median(times), 4) if times else None,
        "p95_response_s": round(p95, 4) if p95 is not None else None,
        "failures": failures + requests - len(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--keys")
    parser.add_argument("--schema")
    args = parser.parse_args()
    result = asyncio.run(run(args.requests, args.concurrency, args.keys, args.schema))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
