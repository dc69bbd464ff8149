"""The folder where ``ferstream serve`` keeps uploads (and fetched videos) while ingest reads them: private to this
server, and nothing in it touched that the server did not write.

- The default is the user's own cache folder, ``$XDG_CACHE_HOME/ferstream/uploads-<host>-<port>`` (else
  ``~/.cache/...``), never the shared temporary folder. ``--upload-dir`` names another.
- A folder that is a symlink, that another user owns, or that others (group or world) may write to is refused; a
  symlink on the way to it is refused unless this user or root owns it. A folder that does not exist is made, 0700.
- The server holds the folder open (every file is made, renamed and removed through that descriptor, never by a
  path followed again) and locked: a second server on the same folder is refused.
- Files are made 0600, new (``O_EXCL``, never through a symlink), named ``<32 hex>.part`` while they arrive and
  ``<32 hex>-<safe name>`` once whole (``OWN_NAME``). Cleaning at start removes only such files, owned by this user.
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
import uuid
from pathlib import Path
from typing import BinaryIO

from ferstream.errors import ConfigError

#: the names of the files the server writes in its upload folder (and the only ones it ever removes there)
OWN_NAME = re.compile(r"[0-9a-f]{32}(\.part|-[A-Za-z0-9._-]{1,80})")


def default_folder(host: str, port: int) -> Path:
    """The upload folder of a server on ``host``:``port`` by default: in the user's cache folder."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "ferstream" / f"uploads-{re.sub(r'[^A-Za-z0-9.]+', '_', host)}-{port}"


class UploadFolder:
    """An upload folder, checked, held open and locked for the life of the server (``open``; ``close``)."""

    def __init__(self, path: Path, fd: int):
        self.path, self._fd = path, fd

    @classmethod
    def open(cls, given: Path | None, host: str, port: int) -> "UploadFolder":
        """The folder ``given`` (``--upload-dir``), else the default one; ``ConfigError`` saying why it is refused."""
        path = Path(os.path.abspath(given if given is not None else default_folder(host, port)))
        if given is None:
            path.parent.parent.mkdir(parents=True, exist_ok=True)
            _private_folder(path.parent, "the folder of ferstream's upload folders")
        else:
            _check_the_way(path)
        fd = _private_folder(path, "--upload-dir" if given is not None else "the upload folder")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError(f"{path} is the upload folder of another ferstream serve that is running: give this one "
                              "a folder of its own (--upload-dir DIR)") from None
        return cls(path, fd)

    def close(self) -> None:
        """Let the folder go (the lock with it); the folder itself goes if it is empty."""
        if self._fd < 0:
            return
        try:
            if not os.listdir(self._fd):
                os.rmdir(self.path)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = -1

    def new_name(self) -> str:
        return f"{uuid.uuid4().hex}.part"

    def create(self, name: str) -> BinaryIO:
        """A new file ``name`` (one of ``OWN_NAME``), 0600, open for writing; never an existing file or a symlink."""
        _check_name(name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        return os.fdopen(os.open(name, flags, 0o600, dir_fd=self._fd), "wb")

    def rename(self, name: str, new: str) -> Path:
        _check_name(name)
        _check_name(new)
        os.rename(name, new, src_dir_fd=self._fd, dst_dir_fd=self._fd)
        return self.path / new

    def remove(self, name: str) -> None:
        """Remove the file ``name`` (one of ``OWN_NAME``) if it is there."""
        _check_name(name)
        try:
            os.unlink(name, dir_fd=self._fd)
        except FileNotFoundError:
            pass

    def clean(self) -> int:
        """Remove what an earlier server of this folder left: the files of ``OWN_NAME`` this user owns, nothing else.
        The number removed."""
        removed = 0
        for name in os.listdir(self._fd):
            if not OWN_NAME.fullmatch(name):
                continue
            try:
                info = os.stat(name, dir_fd=self._fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid():
                os.unlink(name, dir_fd=self._fd)
                removed += 1
        return removed


def _check_name(name: str) -> None:
    if not OWN_NAME.fullmatch(name):
        raise ValueError(f"not a name of the upload folder: {name!r}")


def _check_the_way(path: Path) -> None:
    """Refuse a symlink on the way to ``path`` that another user (not root) owns: they could point it anywhere."""
    for part in reversed(path.parents):
        try:
            info = os.lstat(part)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode) and info.st_uid not in (0, os.getuid()):
            raise ConfigError(f"--upload-dir {path}: refused: the way to it goes through {part}, a symlink another user "
                              "owns")


def _private_folder(path: Path, what: str) -> int:
    """A descriptor of the folder ``path`` (made 0700 if missing), checked: not a symlink, this user's, nobody
    else may write to it. ``ConfigError`` saying which check failed."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot make it: {exc.strerror}") from None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if os.path.islink(path):
            raise ConfigError(f"{what} {path}: refused: it is a symlink (give the folder itself)") from None
        raise ConfigError(f"{what} {path}: refused: not a folder this user can open ({exc.strerror})") from None
    info = os.fstat(fd)
    problem = None
    if info.st_uid != os.getuid():
        problem = "another user owns it"
    elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = f"others may write to it (mode {stat.S_IMODE(info.st_mode):o}): chmod go-w it, or give another"
    if problem:
        os.close(fd)
        raise ConfigError(f"{what} {path}: refused: {problem}")
    return fd
