"""URLs as they may be shown and as they may be opened: one masking function for every URL that reaches a message
or a log, and one policy for every URL or path a user or a caller hands in to be read (``check_camera_url``,
``check_video_url``, ``fetchable_addresses``).

Database (``postgresql+psycopg2://user:pw@host/db``), Redis (``redis://:pw@host:6379/0``) and
stream (``rtsp://user:pw@camera/stream``) URLs all carry credentials the same way: the
password in the URL's user part, sometimes a ``password=`` or token in its query. ``mask_url``
replaces each with ``***``; anything that is not a URL (a file path, a webcam index) is
returned as it is.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from ferstream.errors import UrlRefused, VideoError

#: schemes of cameras (live streams read over the network): ``ferstream watch``, cameras files, ``ferstream cameras
#: add``, POST /v1/cameras. Not srt:// (the FFmpeg bundled with opencv-python has no libsrt), nor FFmpeg's other
#: protocols (udp:, tcp:, concat:, subfile:, data:, pipe:, crypto:, file:, gopher:, ftp: ...)
CAMERA_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https")
#: schemes of live sources read over the network
NETWORK_SCHEMES = CAMERA_SCHEMES
#: schemes of remote video files ``ferstream analyze`` and POST /v1/videos read to their end
REMOTE_FILE_SCHEMES = ("http", "https")
#: query parameters whose values are secrets
SECRET_PARAMETERS = re.compile(r"pass(word|wd)?|secret|token|api[-_]?key|auth|sig(nature)?", re.IGNORECASE)
MASK = "***"


def mask_url(url: str | None) -> str:
    """``url`` with its password and secret query values replaced by ``***``."""
    if url is None:
        return ""
    text = str(url)
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
        password = parts.password
        netloc = parts.netloc
    except ValueError:  # unparseable: mask everything between // and @ rather than risk showing a secret
        return re.sub(r"//[^/@]*@", f"//{MASK}@", text)
    masked = text
    if password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        masked = masked.replace(f"//{netloc}", f"//{user}:{MASK}@{hostport}", 1)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(SECRET_PARAMETERS.fullmatch(k) for k, _ in pairs):
            query = urlencode([(k, MASK if SECRET_PARAMETERS.fullmatch(k) else v) for k, v in pairs], safe="*")
            masked = masked.replace(f"?{parts.query}", f"?{query}", 1)
    return masked


#: a URL in free text: a scheme, ``://``, and everything up to white space or a quote
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>\[\]{},]+")


def mask_secrets(text: str) -> str:
    """``text`` (a message, an excerpt of a file) with every URL in it masked as ``mask_url`` masks one, and any
    ``user:password@`` left over (a URL cut short) masked too."""
    masked = _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), str(text))
    return re.sub(r"(://[^\s:/@]*):[^\s@/]*@", rf"\1:{MASK}@", masked)


def scheme(source: str) -> str:
    """The URL scheme of ``source``, lower case; ``""`` for a path or a device index."""
    return urlsplit(source).scheme.lower() if "://" in source else ""


def is_network(source: str) -> bool:
    """Whether ``source`` is read over the network (a stream URL, or a remote file)."""
    return scheme(source) in NETWORK_SCHEMES


# the URL policy ----------------------------------------------------------------------------------------------------

#: addresses no camera is read from: link-local (where cloud metadata services answer: 169.254.169.254) and AWS's
#: IPv6 metadata address. Private and loopback addresses are allowed: cameras live on LANs and local relays
CAMERA_REFUSED_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"))
#: IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64), checked as that IPv4 address
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
#: a device: a camera index, or a Linux video device
_DEVICE = re.compile(r"\d+|/dev/video\d+")
#: what FFmpeg reads as a protocol: the characters of a scheme before a colon (``concat:``, ``rtsp:``), or ``subfile,``
_PROTOCOL = re.compile(r"([A-Za-z0-9+.-]+):|(subfile),")
_WINDOWS_DRIVE = re.compile(r"[A-Za-z]:[\\/]")

CAMERA_ALLOWED = "a camera is an rtsp://, rtsps://, rtmp://, http:// or https:// URL, or a device (0, /dev/video0)"


def protocol_of(source: str) -> str:
    """The protocol FFmpeg would read ``source`` with, lower case (``rtsp``, ``concat``, ``subfile``); ``""`` for a
    path of this machine or a device index."""
    text = source.strip()
    match = _PROTOCOL.match(text)
    if match is None or _WINDOWS_DRIVE.match(text):
        return ""
    return (match.group(1) or match.group(2)).lower()


def _video_allowed(local_files: bool) -> str:
    return "a video is an http:// or https:// URL" + (", a file:// URL or a path of this machine" if local_files
                                                       else "")


def check_camera_url(url: str, resolve: bool = False) -> str:
    """``url`` (stripped) if a camera may be read from it: a device (``0``, ``/dev/video0``) or a URL of
    ``CAMERA_SCHEMES`` whose host is no link-local or cloud metadata address (in any spelling); ``UrlRefused``
    naming what is allowed otherwise. ``resolve``: a host name is looked up too, and every address it has checked
    (done as the stream is opened; a name that does not resolve is left to FFmpeg to report)."""
    text = str(url).strip()
    if not text:
        raise UrlRefused(f"an empty URL: {CAMERA_ALLOWED}")
    if _DEVICE.fullmatch(text):
        return text
    protocol = protocol_of(text)
    shown = mask_url(text)
    if not protocol:
        raise UrlRefused(f"{shown}: not a camera: {CAMERA_ALLOWED} (a video file is analysed with `ferstream "
                         "analyze`)")  # the same words whether or not such a file exists: no oracle of its files
    if protocol not in CAMERA_SCHEMES:
        raise UrlRefused(f"{shown}: the {protocol}: protocol is refused: {CAMERA_ALLOWED}")
    host, port = _host_port(text, shown)
    try:
        addresses = host_addresses(host, port, resolve)
    except VideoError:
        return text  # an unknown name: FFmpeg says so as it fails to open it
    if any(_in(a, CAMERA_REFUSED_NETWORKS) for a in addresses):
        raise UrlRefused(f"{shown}: refused: {host} is (or resolves to) a link-local or cloud metadata address "
                         "(169.254.0.0/16, fe80::/10, fd00:ec2::254), never a camera")
    return text


def check_video_url(url: str, local_files: bool, live_hint: str = "watch it with `ferstream watch URL`") -> str:
    """``url`` as a video file is opened: an http(s):// URL as given; with ``local_files``, a ``file://`` URL or a
    path as a path (a device is never a file). ``UrlRefused`` naming what is allowed otherwise; a camera's URL is
    told apart, with ``live_hint`` (what to do with a live stream) at its end."""
    text = str(url).strip()
    if not text:
        raise UrlRefused(f"an empty URL: {_video_allowed(local_files)}")
    protocol = protocol_of(text)
    shown = mask_url(text)
    if protocol in REMOTE_FILE_SCHEMES:
        _host_port(text, shown)
        return text
    if protocol in ("file", "") and not local_files:
        raise UrlRefused(f"{shown + ': ' if protocol else ''}local files (file:// URLs and paths) are refused here: "
                         f"{_video_allowed(False)}")
    if protocol == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise UrlRefused(f"{shown}: a file:// URL names a file of this machine: file:///path/to/video.mp4")
        return unquote(parts.path)
    if not protocol:
        return text
    if protocol in CAMERA_SCHEMES:
        raise UrlRefused(f"{shown}: an {protocol}:// URL is a live stream, not a video file: {live_hint}")
    raise UrlRefused(f"{shown}: the {protocol}: protocol is refused: {_video_allowed(local_files)}")


def _host_port(url: str, shown: str) -> tuple[str, int | None]:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise UrlRefused(f"{shown}: not a valid URL ({exc})") from None
    if "//" not in url or not host:
        raise UrlRefused(f"{shown}: no host: expected {parts.scheme}://HOST/...")
    return host, port


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` spells, in any spelling name resolution accepts (``127.1``, ``2130706433``, ``0x7f.1``,
    ``[::ffff:127.0.0.1]``); None for a name."""
    text = host.strip().strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if re.fullmatch(r"[0-9A-Fa-fXx.]+", text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def host_addresses(host: str, port: int | None, resolve: bool = True) -> list:
    """The addresses ``host`` names: its literal address, else (``resolve``) every address it resolves to, in the
    resolver's order; ``VideoError`` for a name that does not resolve."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    if not resolve:
        return []
    try:
        infos = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise VideoError(f"unknown host {host!r} ({getattr(exc, 'strerror', None) or exc})") from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def embedded_ipv4(address):
    """The IPv4 address an IPv6 address carries (IPv4-mapped, IPv4-compatible, 6to4, NAT64), else ``address``."""
    if address.version == 4:
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _NAT64) or (int(address) >> 32 == 0 and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _in(address, networks) -> bool:
    return any(a in net for a in {address, embedded_ipv4(address)} for net in networks)


def is_public(address) -> bool:
    """Whether ``address`` (or the IPv4 address it carries) is a public unicast address: not this machine, a
    private or shared network, link-local, multicast, reserved or unspecified."""
    plain = embedded_ipv4(address)
    return plain.is_global and not (plain.is_multicast or plain.is_reserved or plain.is_unspecified
                                    or plain.is_link_local or getattr(plain, "is_site_local", False))


def fetchable_addresses(url: str, allowed_networks=()) -> list:
    """The addresses the server may connect to for ``url`` (an http(s) URL checked by ``check_video_url``): every
    address its host is or resolves to, each public or in ``allowed_networks``; ``UrlRefused`` if any is not, with
    the same words whether or not anything listens there (nothing is connected to); ``VideoError`` for an unknown
    host. Connect to these addresses, not to the name again: a second lookup could answer otherwise."""
    shown = mask_url(url)
    host, port = _host_port(url, shown)
    addresses = host_addresses(host, port)
    if not addresses or not all(is_public(a) or _in(a, allowed_networks) for a in addresses):
        raise UrlRefused(f"{shown}: refused: the server fetches videos from public addresses only, and this URL's host "
                         "is (or resolves to) an address of this machine or of a private, link-local or reserved "
                         "network (start the server with --allow-url-net CIDR to open a network)")
    return addresses
