"""In-process HAN: a `MemoryMedium` that delivers envelopes between `MemoryLink`s.

The medium is an explicit object handed to every endpoint, never a module
global (python-can's virtual bus shares one dict of channels, so isolation there
depends on unique names). ``memory://NAME`` URLs reach a medium through the
registry behind `MemoryMedium.named`, which tests reset between cases.

Delivery is synchronous and single-threaded: `Link.send` returns once the raw
envelope sits in every receiver's inbox, so a simulation gives the same result
on every run and a benchmark measures the link layer, not a scheduler.

Routing is by destination EUI, read from the raw bytes as a radio would:
unicast goes to the endpoints whose ``local`` holds the destination, broadcast
to every other endpoint; promiscuous endpoints (empty ``local``) hear all
traffic; bytes too short to carry an address are noise that every other
endpoint hears (and counts as corrupted).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, ClassVar

from emulator.errors import LinkClosed, LinkError
from emulator.gbcs.eui import Eui64
from emulator.han.envelope import BROADCAST
from emulator.han.link import EuiLike, Inbox, Link, LinkFault, peek_destination

_anonymous = itertools.count(1)


class MemoryMedium:
    """A shared channel: the air between in-process endpoints.

    ``manipulator`` (optional) is applied to every raw envelope crossing the
    medium, after the sending link's own: fault injection for the whole HAN.
    ``undeliverable`` counts envelopes nobody answered for.
    """

    _registry: ClassVar[dict[str, MemoryMedium]] = {}

    def __init__(self, name: str | None = None, *, manipulator: LinkFault | None = None) -> None:
        self.name = name if name is not None else f"anonymous-{next(_anonymous)}"
        self.manipulator = manipulator
        self.undeliverable = 0
        self._links: list[MemoryLink] = []
        self._owners: dict[bytes, list[MemoryLink]] = {}
        self._promiscuous: list[MemoryLink] = []

    @classmethod
    def named(cls, name: str) -> MemoryMedium:
        """The medium ``memory://NAME`` resolves to, created on first use."""
        medium = cls._registry.get(name)
        if medium is None:
            medium = cls._registry[name] = cls(name)
        return medium

    @classmethod
    def reset_registry(cls) -> list[MemoryMedium]:
        """Forget every named medium; returns those that still had links attached (leaks)."""
        leaked = [medium for medium in cls._registry.values() if medium._links]
        cls._registry.clear()
        return leaked

    @property
    def url(self) -> str:
        return f"memory://{self.name}"

    @property
    def links(self) -> tuple[MemoryLink, ...]:
        """Endpoints attached now (closed links detach themselves)."""
        return tuple(self._links)

    def link(self, local: Iterable[EuiLike] = (), **options: Any) -> MemoryLink:
        """A new endpoint on this medium; ``options`` as for `MemoryLink`."""
        return MemoryLink(self.url, local=local, medium=self, **options)

    def __repr__(self) -> str:
        return f"<MemoryMedium {self.name} links={len(self._links)}>"

    # -- called by MemoryLink ----------------------------------------------------

    def _attach(self, link: MemoryLink) -> None:
        self._links.append(link)
        if link._local:
            for eui in link._local:
                self._owners.setdefault(eui, []).append(link)
        else:
            self._promiscuous.append(link)

    def _index(self, link: MemoryLink, eui: Eui64) -> None:
        if link not in self._links:
            return
        if link in self._promiscuous:  # its first address: no longer hears everything
            self._promiscuous.remove(link)
        self._owners.setdefault(eui, []).append(link)

    def _detach(self, link: MemoryLink) -> None:
        if link not in self._links:
            return
        self._links.remove(link)
        if link in self._promiscuous:
            self._promiscuous.remove(link)
        for eui in link._local:
            owners = self._owners.get(eui)
            if owners is not None and link in owners:
                owners.remove(link)
                if not owners:
                    del self._owners[eui]

    def _transmit(self, sender: MemoryLink, raw: bytes) -> None:
        if self.manipulator is None:
            self._route(sender, raw)
        else:
            for chunk in self.manipulator(raw):
                self._route(sender, chunk)

    def _route(self, sender: MemoryLink, raw: bytes) -> None:
        destination = peek_destination(raw)
        if destination is None or destination == BROADCAST:
            targets = [link for link in self._links if link is not sender]
            if not targets:
                self.undeliverable += 1
        else:
            owners = self._owners.get(destination, ())
            if not owners:
                self.undeliverable += 1
            targets = [*owners, *(link for link in self._promiscuous if link is not sender)]
        for link in targets:
            link._deliver(raw)


class MemoryLink(Link):
    """An endpoint on a `MemoryMedium`, from ``memory://NAME`` or ``medium=``.

    ``max_queue`` bounds the inbox (0: unbounded); envelopes arriving at a full
    inbox are counted as dropped, the way a device's receive buffer overflows.
    Sends never block, so the default ``send_timeout`` is None.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        local: Iterable[EuiLike] = (),
        medium: MemoryMedium | None = None,
        max_queue: int = 0,
        send_timeout: float | None = None,
        **options: Any,
    ) -> None:
        if medium is None:
            if url is None:
                raise LinkError("MemoryLink needs a memory://NAME URL or a medium")
            medium = MemoryMedium.named(parse_memory_url(url))
        self.medium = medium
        self._inbox = Inbox(max_queue)
        super().__init__(url or medium.url, local=local, send_timeout=send_timeout, **options)
        medium._attach(self)

    @property
    def pending(self) -> int:
        """Envelopes delivered to this endpoint and not yet received."""
        return len(self._inbox)

    def _deliver(self, raw: bytes) -> None:
        if not self._inbox.put(raw):
            self.counters.dropped += 1

    async def _send(self, raw: bytes) -> None:
        self.medium._transmit(self, raw)

    async def _recv(self) -> bytes:
        return await self._inbox.get()

    async def _bind(self, eui: Eui64) -> None:
        self.medium._index(self, eui)

    async def _close(self) -> None:
        self.medium._detach(self)
        self._inbox.close(LinkClosed(f"{self.url}: link is closed"))


def parse_memory_url(url: str) -> str:
    """The medium name in ``memory://NAME``."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "memory":
        raise LinkError(f"not a memory:// URL: {url!r}")
    name = rest.strip("/")
    if not name:
        raise LinkError(f"memory URL needs a medium name: {url!r} (e.g. memory://lab)")
    return name
