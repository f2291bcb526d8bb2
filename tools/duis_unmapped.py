"""Count the DUIS template body values the transform does not carry into a command.

Usage::

    .venv/bin/python tools/duis_unmapped.py [DUIS_DIR] [--list]

DUIS_DIR holds ``templates/`` (default ``../shared/duis``). Each template is
transformed as the DUIS server does (`hil.duis.transform`), for the device type of
the use case its file name gives (a twin ESME where the name says ``TWIN``); the
values it lists as unmapped are what the server would log and count in
``server.counts["unmapped_values"]``. Prints one JSON object: the total, and the
count per template that has any (with ``--list``, the values themselves). A
development tool: the library and the tests never import it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from hil.dcc.catalogue import load_catalogue
from hil.dcc.routes import routes_for
from hil.duis.server import BOXED_DCC
from hil.duis.transform import transform
from hil.duis.xml import parse, read_request

NAME = re.compile(r"([A-Za-z0-9]+)_([0-9.]+?)\.?_(.*)_REQUEST_DUIS\.XML")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("duis", nargs="?", default="../shared/duis")
    parser.add_argument("--list", action="store_true", help="list the values, not only counts")
    args = parser.parse_args(argv)
    folder = Path(args.duis) / "templates"
    if not folder.is_dir():
        print(f"duis_unmapped: {folder}: no such folder", file=sys.stderr)
        return 2
    catalogue = load_catalogue()
    per_template: dict[str, object] = {}
    total = 0
    for path in sorted(folder.glob("*_REQUEST_DUIS.XML")):
        request = read_request(parse(path.read_bytes()))
        service = catalogue.get(request.variant)
        non_device = service is not None and (service.non_device or service.role_only)
        m = NAME.fullmatch(path.name)
        use_case = m.group(1) if m else ""
        routes = routes_for(request.variant)
        device_type = next(
            (r.device_type for r in routes if r.use_case == use_case),
            routes[0].device_type if routes else None,
        )
        t = transform(
            request,
            device_type=device_type,
            dcc_ids=[BOXED_DCC],
            non_device=non_device,
            twin="TWIN" in path.name,
        )
        if t.unmapped:
            total += len(t.unmapped)
            per_template[path.name] = t.unmapped if args.list else len(t.unmapped)
    print(json.dumps({"unmapped_values": total, "templates": per_template}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
