"""Fetch audio from a URL, guarding against server-side request forgery (SSRF).

* Only ``http`` and ``https``.
* Every host is resolved and *every* address it resolves to must be public (not loopback,
  private, link-local, multicast, reserved, shared or unspecified) unless private URLs are
  allowed. The check runs in the connection layer, on each connection (so each redirect hop
  is checked too), and the socket connects to the very address that was checked, so DNS
  rebinding between check and connect does not help.
* Redirects are followed by hand, at most ``max_redirects``, each re-validated.
* Size (``max_bytes``, counted as the bytes stream in) and total time are bounded.

Links to pages that yt-dlp understands (YouTube, SoundCloud, Bandcamp, ...) are resolved by
yt-dlp's extractor to a direct media URL (audio only, http(s) only), which is then downloaded
by the same guarded fetcher. yt-dlp's own page requests only go to the checked page host's
site; that is the one request path not pinned by the connection guard.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpcore
import httpx

from genrekit.audio.sniff import AUDIO_EXTENSIONS
from genrekit.service.errors import JobTimeoutError, PayloadTooLargeError, UrlFetchError, UrlRefusedError
from genrekit.service.intake.uploads import IncomingAudio, SpoolWriter

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]

ALLOWED_SCHEMES = ("http", "https")
# A path ending so is downloaded directly, never handed to yt-dlp.
DIRECT_AUDIO_SUFFIXES = tuple(sorted(AUDIO_EXTENSIONS))
USER_AGENT = "genrekit (+audio genre classifier)"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_YTDLP_FORMAT = "bestaudio[protocol^=http][protocol!*=dash]/best[protocol^=http][protocol!*=dash]"


def is_public_address(ip: IPAddress) -> bool:
    """True for a globally routable unicast address; False for anything an SSRF could abuse.

    IPv4-mapped (``::ffff:127.0.0.1``) and NAT64 (``64:ff9b::7f00:1``) IPv6 addresses are
    judged by the IPv4 address they embed.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public_address(ip.ipv4_mapped)
        if ip in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    blocked = (
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )
    return ip.is_global and not blocked


def allow_any_address(ip: IPAddress) -> bool:
    """Policy allowing every address (``allow_private_urls``)."""
    return True


def validate_url(url: str) -> httpx.URL:
    """Parse ``url``; raise :class:`UrlRefusedError` unless it is an http(s) URL with a host."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as error:
        raise UrlRefusedError(f"not a valid URL: {error}") from error
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise UrlRefusedError(f"only http and https URLs are accepted, not {parsed.scheme or 'a relative URL'!r}")
    if not parsed.host:
        raise UrlRefusedError("the URL has no host")
    return parsed


async def resolve_checked(host: str, port: int, policy: AddressPolicy) -> list[str]:
    """Resolve ``host`` and return its addresses if the policy allows every one of them.

    Raises
    ------
    UrlRefusedError
        One of the addresses is refused by ``policy``.
    UrlFetchError
        The host does not resolve.
    """
    literal = host.strip("[]")
    try:
        addresses = [ipaddress.ip_address(literal)]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(literal, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise UrlFetchError(f"cannot resolve host {literal!r}: {error}") from error
        addresses = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise UrlFetchError(f"host {literal!r} has no address")
    for address in addresses:
        if not policy(address):
            raise UrlRefusedError(
                f"{literal} resolves to {address}, a loopback, private, link-local or reserved address; "
                "the service does not fetch from those"
            )
    return [str(a) for a in addresses]


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that checks every address before connecting to it."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve_checked(host, port, self._policy)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        raise last_error or UrlFetchError(f"cannot connect to {host}")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise UrlRefusedError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def make_guarded_client(policy: AddressPolicy, timeout_s: float) -> httpx.AsyncClient:
    """An httpx client whose every connection goes through the address guard."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    ssl_context: ssl.SSLContext = httpx.create_ssl_context(trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(  # noqa: SLF001 (pin the guarded network backend)
        ssl_context=ssl_context,
        max_connections=4,
        network_backend=_GuardedBackend(policy),
    )
    return httpx.AsyncClient(
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout_s),
        headers={"User-Agent": USER_AGENT, "Accept": "audio/*, application/octet-stream;q=0.9, */*;q=0.5"},
    )


def filename_from_url(url: httpx.URL) -> str:
    """The URL's last path segment (unquoted), or its host when the path is empty."""
    segment = unquote(url.path.rstrip("/").rsplit("/", 1)[-1])
    return segment or url.host


async def fetch_url(
    url: str,
    *,
    policy: AddressPolicy,
    max_bytes: int,
    timeout_s: float,
    max_redirects: int = 5,
    headers: dict[str, str] | None = None,
    filename: str | None = None,
) -> IncomingAudio:
    """Download ``url`` into a temporary file through the address guard.

    Parameters
    ----------
    url : str
        http(s) URL.
    policy : callable
        ``policy(ip) -> bool``: may the fetcher connect to this address?
    max_bytes : int
        Largest accepted content (after content-encoding is undone).
    timeout_s : float
        Total time for all hops and the body (seconds).
    max_redirects : int
        Redirects followed; each target is validated again.
    headers : dict or None
        Extra request headers, sent to the first host only.
    filename : str or None
        Name to record; default: the last path segment of ``url``.

    Raises
    ------
    UrlRefusedError, UrlFetchError, PayloadTooLargeError, JobTimeoutError
    """
    current = validate_url(url)
    first_host = current.host
    name = filename or filename_from_url(current)
    try:
        async with asyncio.timeout(timeout_s):
            async with make_guarded_client(policy, timeout_s) as client:
                for _ in range(max_redirects + 1):
                    extra = headers if (headers and current.host == first_host) else None
                    async with client.stream("GET", current, headers=extra) as response:
                        if response.is_redirect:
                            location = response.headers.get("location")
                            if not location:
                                raise UrlFetchError(f"{current.host} answered a redirect without a Location")
                            current = validate_url(str(current.join(location)))
                            continue
                        if response.status_code != 200:
                            raise UrlFetchError(f"{current.host} answered HTTP {response.status_code}")
                        _check_declared_length(response, max_bytes)
                        writer = SpoolWriter(max_bytes, what="download")
                        try:
                            async for chunk in response.aiter_bytes():
                                writer.write(chunk)
                        except BaseException:
                            writer.abort()
                            raise
                        return writer.finish(name)
                raise UrlFetchError(f"more than {max_redirects} redirects")
    except TimeoutError as error:
        raise JobTimeoutError(f"fetching the URL took longer than {timeout_s:g} s") from error
    except httpx.HTTPError as error:
        raise UrlFetchError(f"cannot fetch {current.host}: {error}") from error


def _check_declared_length(response: httpx.Response, max_bytes: int) -> None:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and "content-encoding" not in response.headers and int(declared) > max_bytes:
        raise PayloadTooLargeError(
            f"the remote file ({int(declared)} bytes) is larger than the limit of {max_bytes / (1024 * 1024):g} MiB"
        )


@functools.lru_cache(maxsize=1)
def _ytdlp_extractors() -> tuple[Any, ...]:
    try:
        from yt_dlp.extractor import gen_extractor_classes
    except ImportError:
        return ()
    return tuple(ie for ie in gen_extractor_classes() if ie.ie_key() != "Generic")


def ytdlp_handles(url: str) -> bool:
    """True when a site-specific yt-dlp extractor (not the generic one) claims ``url``."""
    parsed = httpx.URL(url)
    if parsed.path.lower().endswith(DIRECT_AUDIO_SUFFIXES):
        return False
    return any(ie.suitable(url) for ie in _ytdlp_extractors())


@dataclass(frozen=True)
class MediaLink:
    """A direct media URL found by yt-dlp, with the headers it needs and the page title."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    title: str | None = None


class _QuietLogger:
    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        pass

    def error(self, msg: str) -> None:
        pass


def ytdlp_extract(url: str, *, timeout_s: float, max_bytes: int) -> MediaLink:
    """Ask yt-dlp for the best audio-only http(s) format of a page (nothing is downloaded).

    Raises
    ------
    UrlFetchError
        yt-dlp is missing, fails, finds a playlist or no single-file http(s) format.
    PayloadTooLargeError
        The chosen format declares a size above ``max_bytes``.
    """
    try:
        from yt_dlp import YoutubeDL
        from yt_dlp.utils import YoutubeDLError
    except ImportError as error:
        raise UrlFetchError("yt-dlp is not installed; only direct audio links can be fetched") from error
    options = {
        "format": _YTDLP_FORMAT,
        "noplaylist": True,
        "skip_download": True,
        "quiet": True,
        "no_warnings": True,
        "socket_timeout": timeout_s,
        "cachedir": False,
        "logger": _QuietLogger(),
    }
    try:
        with YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=False)
    except YoutubeDLError as error:
        raise UrlFetchError(f"yt-dlp could not read the page: {error}") from error
    if not info or info.get("_type") in ("playlist", "multi_video") or info.get("requested_formats"):
        raise UrlFetchError("the link is a playlist or has no single audio file; link one track")
    media_url = info.get("url")
    if not media_url:
        raise UrlFetchError("yt-dlp found no downloadable audio format")
    size = info.get("filesize") or info.get("filesize_approx")
    if size and int(size) > max_bytes:
        raise PayloadTooLargeError(
            f"the audio ({int(size)} bytes) is larger than the limit of {max_bytes / (1024 * 1024):g} MiB"
        )
    headers = {str(k): str(v) for k, v in (info.get("http_headers") or {}).items()}
    return MediaLink(url=str(media_url), headers=headers, title=info.get("title"))


async def fetch_audio(
    url: str,
    *,
    allow_private: bool,
    max_bytes: int,
    timeout_s: float,
    max_redirects: int = 5,
    extract: Callable[..., MediaLink] | None = None,
) -> IncomingAudio:
    """Fetch the audio a link points at: directly, or through yt-dlp for known sites.

    Parameters
    ----------
    url : str
        http(s) link.
    allow_private : bool
        Allow loopback, private and reserved addresses.
    max_bytes, timeout_s, max_redirects
        Limits of the download (see :func:`fetch_url`); ``timeout_s`` bounds the yt-dlp
        extraction and the download together.
    extract : callable or None
        The page-to-media-link resolver; ``None`` means :func:`ytdlp_extract`.
    """
    parsed = validate_url(url)
    policy: AddressPolicy = allow_any_address if allow_private else is_public_address
    await resolve_checked(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80), policy)
    if not await asyncio.to_thread(ytdlp_handles, str(parsed)):
        return await fetch_url(
            str(parsed), policy=policy, max_bytes=max_bytes, timeout_s=timeout_s, max_redirects=max_redirects
        )
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        link = await asyncio.wait_for(
            asyncio.to_thread(extract or ytdlp_extract, str(parsed), timeout_s=timeout_s, max_bytes=max_bytes),
            timeout=timeout_s,
        )
    except TimeoutError as error:
        raise JobTimeoutError(f"reading the page took longer than {timeout_s:g} s") from error
    remaining = max(1.0, timeout_s - (loop.time() - start))
    return await fetch_url(
        link.url,
        policy=policy,
        max_bytes=max_bytes,
        timeout_s=remaining,
        max_redirects=max_redirects,
        headers=link.headers,
        filename=link.title or filename_from_url(parsed),
    )
