"""Where a submitter's ``callback_url`` may point: public hosts on ordinary ports only.

A callback URL is a request the service makes on a client's behalf, signed and retried:
without these checks a submitter could aim it at cloud metadata (169.254.169.254), Redis on
loopback, or any host on the internal network (server-side request forgery). So:

- only ``http``/``https``, no credentials in the URL, and a port from ``callback_ports``;
- the host must resolve, and every address it resolves to must be public (not loopback,
  private, link-local, shared, multicast, reserved or unspecified; IPv4 inside IPv6 is
  unwrapped). Numeric spellings such as ``0x7f000001`` or ``127.1`` resolve to what they
  mean and are refused with it;
- the check runs when the scan is submitted and again at each delivery, and the delivery
  connects to the address it checked (DNS rebinding cannot swap in an internal one between
  the check and the connection).

An operator who needs an internal receiver lists it in ``callback_hosts``: then only the
listed hosts are accepted, and they may be internal. Webhooks the operator configures
(``webhook_urls``) are trusted as they are.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..errors import DeepscreenError

Resolver = Callable[[str, int], Sequence[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class CallbackURLError(DeepscreenError):
    """A callback URL the service will not deliver to."""


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver, TCP)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackURLError(f"callback host {host!r} does not resolve: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (address.is_multicast or address.is_reserved
                                      or address.is_unspecified)


@dataclass(frozen=True)
class CallbackPolicy:
    allowed_hosts: tuple[str, ...] = ()
    ports: tuple[int, ...] = (80, 443, 8080, 8443)
    resolver: Resolver | None = None  # None: the system resolver (resolve_host)

    def check(self, url: str) -> str:
        """``url`` if the service may deliver to it, else :class:`CallbackURLError`."""
        host, port = self._parts(url)
        if self.allowed_hosts:
            if host not in self.allowed_hosts:
                raise CallbackURLError(f"callback host {host!r} is not in the allowed list")
            return url
        self.public_address(host, port)
        return url

    def vouched(self, url: str) -> bool:
        """The operator listed this URL's host: it may be internal."""
        return bool(self.allowed_hosts) and urlsplit(url).hostname in self.allowed_hosts

    def public_address(self, host: str, port: int) -> str:
        """The address to connect to; refuses a host with any non-public address."""
        addresses = (self.resolver or resolve_host)(host, port)
        if not addresses:
            raise CallbackURLError(f"callback host {host!r} does not resolve")
        for raw in addresses:
            address = ipaddress.ip_address(raw.split("%", 1)[0])
            if not is_public(address):
                raise CallbackURLError(f"callback host {host!r} resolves to {address}, which is "
                                       "not a public address (loopback, private, link-local, "
                                       "multicast or reserved); an operator can allow an "
                                       "internal receiver with DEEPSCREEN_CALLBACK_HOSTS")
        return addresses[0]

    def _parts(self, url: str) -> tuple[str, int]:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise CallbackURLError(f"callback URL is malformed: {exc}") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CallbackURLError(f"callback URL must be an absolute http(s) URL, got {url!r}")
        if parts.username or parts.password:
            raise CallbackURLError("callback URL must not carry credentials")
        port = port or (443 if parts.scheme == "https" else 80)
        if port not in self.ports:
            allowed = ", ".join(str(p) for p in self.ports)
            raise CallbackURLError(f"callback port {port} is not allowed (allowed: {allowed})")
        return parts.hostname, port


class PinnedTransport(httpx.HTTPTransport):
    """Checks a callback's host again at delivery and connects to the address it checked.

    The request keeps its ``Host`` header and TLS server name, so virtual hosting and
    certificate checks work as if the name had been used.
    """

    def __init__(self, policy: CallbackPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.policy.check(url)
        if not self.policy.vouched(url):
            host = request.url.host
            address = self.policy.public_address(host, request.url.port or
                                                 (443 if request.url.scheme == "https" else 80))
            request.url = request.url.copy_with(host=address)
            request.extensions = {**request.extensions, "sni_hostname": host}
        return super().handle_request(request)
