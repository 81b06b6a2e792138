"""Outbound requests to user-supplied URLs, safe from SSRF.

Only http(s); the host is resolved and every address must be public (no loopback, private,
link-local, metadata, multicast or reserved ranges) unless it is on the configured allow-list;
the connection is pinned to the checked address (so DNS cannot be re-bound between check and
use); redirects are followed by hand and re-checked; size and time are capped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from app.core.http import get_http_client

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Cloud metadata endpoints, refused even when the allow-list would admit link-local ranges.
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
}


class UnsafeURLError(ValueError):
    """The URL may not be fetched (scheme, host or address refused)."""


class FetchError(ValueError):
    """The URL could not be fetched (unreachable, error status, too large, too slow)."""


@dataclass(frozen=True)
class FetchedResource:
    url: str
    content: bytes
    content_type: str | None


@dataclass(frozen=True)
class OutboundPolicy:
    """Hosts or networks admitted even though they are not public (tests, internal mirrors)."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> OutboundPolicy:
        hosts: set[str] = set()
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry)
        return cls(frozenset(hosts), tuple(networks))

    def admits(self, host: str, address: IPAddress) -> bool:
        if address in METADATA_ADDRESSES:
            return False
        if host.lower() in self.allowed_hosts:
            return True
        return any(address in network for network in self.allowed_networks)


def is_public_address(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public_address(address.ipv4_mapped)
    # is_global also excludes what none of the flags below covers: shared address space
    # (100.64.0.0/10, carrier-grade NAT and some clouds' metadata service at 100.100.100.200).
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in METADATA_ADDRESSES
    )


def parse_http_url(url: str) -> tuple[str, str, int]:
    """Return (scheme, host, port) or raise UnsafeURLError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURLError(f"malformed URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError("only http and https URLs are allowed")
    if not parts.hostname:
        raise UnsafeURLError("URL has no host")
    if parts.username or parts.password:
        raise UnsafeURLError("URLs with credentials are not allowed")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve_checked(host: str, port: int, policy: OutboundPolicy) -> IPAddress:
    """Resolve `host`; every address must be public or admitted. Returns the one to connect to."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            # UnicodeError: a name IDNA cannot encode (an empty label, one over 63 characters).
            raise FetchError(f"cannot resolve host {host!r}") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses:
            raise FetchError(f"cannot resolve host {host!r}")
    for address in addresses:
        if not is_public_address(address) and not policy.admits(host, address):
            raise UnsafeURLError(f"host {host!r} resolves to a non-public address")
    return addresses[0]


async def check_url(url: str, policy: OutboundPolicy) -> None:
    """Validate a URL that will be called later (webhook targets, callbacks)."""
    _, host, port = parse_http_url(url)
    await resolve_checked(host, port, policy)


def _pinned(url: str, address: IPAddress) -> tuple[str, str]:
    parts = urlsplit(url)
    host_literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = host_literal if parts.port is None else f"{host_literal}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc)), parts.netloc.rsplit("@", 1)[-1]


async def send_checked(
    method: str,
    url: str,
    policy: OutboundPolicy,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    timeout: float = 15.0,
    max_redirects: int = 3,
    max_bytes: int = 20 * 1024 * 1024,
) -> tuple[httpx.Response, bytes]:
    """Send a request to a checked, address-pinned URL; return the response and its body."""
    client = get_http_client()
    current = url
    for _ in range(max_redirects + 1):
        _, host, port = parse_http_url(current)
        address = await resolve_checked(host, port, policy)
        pinned_url, host_header = _pinned(current, address)
        request_headers = {**(headers or {}), "Host": host_header}
        request = client.build_request(
            method,
            pinned_url,
            headers=request_headers,
            content=content,
            timeout=timeout,
            extensions={"sni_hostname": host},
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise FetchError(f"timed out fetching {host}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot reach {host}: {exc.__class__.__name__}") from exc
        try:
            if response.is_redirect and "location" in response.headers:
                current = urljoin(current, response.headers["location"])
                # Bodies are not re-sent to another host after a redirect.
                method, content = (
                    ("GET", None) if response.status_code in (301, 302, 303) else (method, content)
                )
                continue
            body = bytearray()
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"response larger than {max_bytes} bytes")
            try:
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        raise FetchError(f"response larger than {max_bytes} bytes")
            except httpx.TimeoutException as exc:
                raise FetchError(f"timed out fetching {host}") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"error reading from {host}: {exc.__class__.__name__}") from exc
            return response, bytes(body)
        finally:
            await response.aclose()
    raise FetchError("too many redirects")


async def fetch_url(
    url: str, policy: OutboundPolicy, *, max_bytes: int, timeout: float = 15.0
) -> FetchedResource:
    response, body = await send_checked("GET", url, policy, max_bytes=max_bytes, timeout=timeout)
    if response.status_code >= 400:
        raise FetchError(f"fetching the URL failed with HTTP {response.status_code}")
    return FetchedResource(url=url, content=body, content_type=response.headers.get("content-type"))
