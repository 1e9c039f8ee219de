"""Server-side request forgery guard for URLs the exchange calls on members' behalf.

Members register URLs that Satu's own servers then call: a service's backend `base_url` (the
gateway forwards to it) and a subscription's `pushUrl` (the delivery worker POSTs events to it).
Without a check, a member could point them at Satu's own infrastructure (the database, Redis, a
cloud metadata service) and read the answers back. So:

- always refused: link-local addresses (169.254.0.0/16, fe80::/10, where cloud metadata
  services live), known metadata addresses, unspecified (0.0.0.0, ::), multicast, broadcast
  and reserved addresses, and `localhost` names when loopback is not allowed;
- refused unless `SATU_EXCHANGE_ALLOW_PRIVATE_URLS` is true (the default in development and
  test; false in production): loopback (127.0.0.0/8, ::1) and private addresses (RFC 1918,
  100.64.0.0/10, fc00::/7, ...). A production deployment whose agency backends sit on a
  private network sets it to true deliberately.

A host name is resolved and every address it resolves to must pass. Checking at registration
catches mistakes early; the push worker checks again right before each delivery and connects to
the address it checked (so a DNS answer that changes in between, DNS rebinding, cannot redirect it).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from satu.core.config import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Metadata services outside link-local space (Alibaba Cloud, AWS IPv6, Oracle Cloud).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254", "192.0.0.192")
)


class ForbiddenURL(ValueError):
    """The URL names an address the exchange must not call."""


def private_urls_allowed() -> bool:
    """Whether loopback and private addresses may be called (SATU_EXCHANGE_ALLOW_PRIVATE_URLS)."""
    return get_settings().exchange_private_urls_allowed


def _plain(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def address_problem(address: IPAddress, *, allow_private: bool | None = None) -> str | None:
    """Why the exchange must not call this address, or None when it may."""
    allow = private_urls_allowed() if allow_private is None else allow_private
    ip = _plain(address)
    if ip in METADATA_ADDRESSES or ip.is_link_local:
        return "a link-local or cloud metadata address"
    if ip.is_loopback:  # before is_reserved: ::1 lies in the reserved ::/8
        return None if allow else "a loopback address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "an unspecified, multicast or reserved address"
    if isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address("255.255.255.255"):
        return "a broadcast address"
    if not ip.is_global:
        return None if allow else "a private address"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal in any form getaddrinfo accepts)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if ip not in seen:
            seen.append(ip)
    return seen


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ForbiddenURL("not an absolute http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ForbiddenURL("an invalid port") from None
    return parts.hostname.rstrip(".").lower(), port


def check_url(url: str, *, resolve_names: bool = True) -> None:
    """Refuse (ForbiddenURL) a URL whose host is, or resolves to, a forbidden address.

    A name that does not resolve now passes (it is checked again when called).
    """
    host, port = _host_port(url)
    allow = private_urls_allowed()
    if not allow and (host == "localhost" or host.endswith(".localhost")):
        raise ForbiddenURL("names localhost")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    elif not resolve_names:
        return
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            return
    for address in addresses:
        problem = address_problem(address, allow_private=allow)
        if problem:
            raise ForbiddenURL(f"names {problem}")


def pinned_address(url: str) -> IPAddress:
    """The vetted address to connect to for `url` (ForbiddenURL if none may be called).

    Raises OSError when the name does not resolve.
    """
    host, port = _host_port(url)
    allow = private_urls_allowed()
    if not allow and (host == "localhost" or host.endswith(".localhost")):
        raise ForbiddenURL("names localhost")
    addresses = resolve(host, port)
    if not addresses:
        raise OSError("no address")
    for address in addresses:
        problem = address_problem(address, allow_private=allow)
        if problem:
            raise ForbiddenURL(f"resolves to {problem}")
    return addresses[0]
