"""Videos given by URL to POST /v1/videos: fetched by the server itself, over http(s), into its upload folder; ingest
then reads the file. FFmpeg never sees the URL, so it never looks the name up again nor follows a redirect itself.

Every hop (the URL, then each redirect) passes the URL policy before a byte is sent: http(s) only, its host looked up
once and every address it has public or in ``--allow-url-net`` (``urls.fetchable_addresses``); the connection goes
to one of those very addresses (a name that would answer otherwise a second time gets no second look), and HTTPS is
verified against the name. A refused address is answered the same whether or not anything listens there: nothing is
connected to.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import time
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

from ferstream import __version__
from ferstream.api_server.problems import ApiProblem
from ferstream.api_server.upload_folder import UploadFolder
from ferstream.ingest.files import safe_name
from ferstream.urls import check_video_url, fetchable_addresses, mask_url

#: redirects followed, each checked as the URL was
MAX_REDIRECTS = 5
#: seconds a connection or a read may take before the fetch is given up
DEFAULT_FETCH_TIMEOUT_S = 30.0
#: seconds a whole fetch may take (a server that sends a byte now and then does not hold a thread for ever)
MAX_FETCH_S = 900.0
_REDIRECTS = (301, 302, 303, 307, 308)
_BLOCK = 256 * 1024


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to ``address`` (checked), sending the URL's own name as its Host."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to ``address`` (checked), its certificate verified against the URL's name."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address, self.tls = address, ssl.create_default_context()

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def fetch_video(url: str, folder: UploadFolder, limit_mb: int, allowed_networks=(),
                timeout: float = DEFAULT_FETCH_TIMEOUT_S) -> tuple[Path, str]:
    """Fetch the video at ``url`` (an http(s) URL) into ``folder``, at most ``limit_mb`` megabytes: the file stored
    and the name the URL gives it. ``UrlRefused`` for a URL (or a redirect) the policy refuses, 422 for a fetch that
    fails; nothing is left in ``folder`` then."""
    shown = mask_url(url)
    deadline = time.monotonic() + MAX_FETCH_S
    for _ in range(MAX_REDIRECTS + 1):
        connection, response = _get(url, allowed_networks, timeout)
        try:
            if response.status in _REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise _failed(shown, f"it answered {response.status} without a Location")
                url = check_video_url(urljoin(url, location.strip()), local_files=False)
                continue
            if response.status != 200:
                raise _failed(shown, f"it answered {response.status} {response.reason}".rstrip())
            return _store(response, folder, limit_mb, url, deadline), _file_name(url)
        finally:
            connection.close()
    raise _failed(shown, f"more than {MAX_REDIRECTS} redirects")


def _get(url: str, allowed_networks, timeout: float):
    """The connection and the answer to a GET of ``url``, made to an address the policy allows."""
    parts = urlsplit(url)
    addresses = fetchable_addresses(url, allowed_networks)
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"User-Agent": f"ferstream/{__version__}", "Accept": "*/*"}
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
    why = "no address"
    for address in addresses:
        connection = (_PinnedHTTPS if https else _PinnedHTTP)(parts.hostname, port, str(address), timeout)
        try:
            connection.request("GET", target, headers=headers)
            return connection, connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    raise _failed(mask_url(url), f"cannot fetch it: {why}")


def _store(response, folder: UploadFolder, limit_mb: int, url: str, deadline: float) -> Path:
    shown, limit = mask_url(url), limit_mb * 1024 * 1024
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _failed(shown, f"it is larger than the {limit_mb} MB accepted (--max-upload-mb)")
    name = folder.new_name()
    try:
        size = 0
        with folder.create(name) as sink:
            while block := response.read(_BLOCK):
                size += len(block)
                if size > limit:
                    raise _failed(shown, f"it is larger than the {limit_mb} MB accepted (--max-upload-mb)")
                if time.monotonic() > deadline:
                    raise _failed(shown, f"it took longer than {MAX_FETCH_S:.0f}s to fetch")
                sink.write(block)
        if size == 0:
            raise _failed(shown, "it is empty")
        return folder.rename(name, f"{name.removesuffix('.part')}-{safe_name(_file_name(url))}")
    except (OSError, http.client.HTTPException) as exc:
        folder.remove(name)
        raise _failed(shown, f"the fetch broke off: {getattr(exc, 'strerror', None) or exc or type(exc).__name__}") \
            from None
    except BaseException:
        folder.remove(name)
        raise


def _file_name(url: str) -> str:
    return PurePosixPath(unquote(urlsplit(url).path)).name or "video"


def _failed(shown: str, why: str) -> ApiProblem:
    return ApiProblem(422, "Unprocessable content", f"{shown}: {why}")
