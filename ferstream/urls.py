"""URLs as they may be shown: one masking function for every URL that reaches a message or a log.

Database (``postgresql+psycopg2://user:pw@host/db``), Redis (``redis://:pw@host:6379/0``) and
stream (``rtsp://user:pw@camera/stream``) URLs all carry credentials the same way: the
password in the URL's user part, sometimes a ``password=`` or token in its query. ``mask_url``
replaces each with ``***``; anything that is not a URL (a file path, a webcam index) is
returned as it is.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

#: schemes of live sources read over the network (``ferstream watch``)
NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
#: schemes of remote video files ``ferstream analyze`` reads to their end
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
