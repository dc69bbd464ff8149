"""serve's upload folder (issue 45): private to one server, never followed through a symlink, cleaned of its own
files only; a folder a neighbour could plant or write to is refused, and nothing in it is touched."""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from ferstream.api_server.upload_folder import OWN_NAME, UploadFolder
from ferstream.errors import ConfigError
from tests.api_server.conftest import problem_of
from tests.conftest import free_port
from tests.helpers import ferstream


def _serve_refused(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``ferstream serve ARGS``, which must refuse to start: its completed process."""
    result = ferstream("serve", "--port", str(free_port()), "--database", f"sqlite:///{tmp_path / 'refused.db'}", *args,
                       check=False, timeout=120, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, (result.returncode, result.stderr)
    return result


@pytest.fixture
def important(tmp_path) -> Path:
    """A folder of the user's that a neighbour would like serve to empty."""
    folder = tmp_path / "important"
    folder.mkdir()
    for name in ("thesis.tex", f"{uuid.uuid4().hex}.part", "notes.txt"):
        (folder / name).write_text("keep me")
    return folder


def _contents(folder: Path) -> dict:
    return {p.name: p.read_text() for p in folder.iterdir()}


def test_a_planted_symlink_at_the_default_folder_is_refused_and_nothing_is_deleted(tmp_path, important):
    cache, port = tmp_path / "cache", free_port()
    planted = cache / "ferstream" / f"uploads-127.0.0.1-{port}"  # a name anyone could guess
    planted.parent.mkdir(parents=True, mode=0o700)
    planted.symlink_to(important)
    before = _contents(important)
    result = ferstream("serve", "--port", str(port), "--database", f"sqlite:///{tmp_path / 'x.db'}", check=False,
                       timeout=120, env={"XDG_CACHE_HOME": str(cache)})
    assert result.returncode == 2 and "it is a symlink" in result.stderr, result.stderr
    assert _contents(important) == before


def test_a_symlinked_upload_dir_is_refused_and_nothing_is_deleted(tmp_path, important):
    link = tmp_path / "uploads"
    link.symlink_to(important)
    before = _contents(important)
    result = _serve_refused(tmp_path, "--upload-dir", str(link))
    assert f"--upload-dir {link}: refused: it is a symlink" in result.stderr
    assert _contents(important) == before


def test_an_upload_dir_others_may_write_to_or_own_is_refused(tmp_path, important):
    open_to_all = tmp_path / "shared"
    open_to_all.mkdir()
    open_to_all.chmod(0o777)
    (open_to_all / f"{uuid.uuid4().hex}.part").write_text("someone's")
    result = _serve_refused(tmp_path, "--upload-dir", str(open_to_all))
    assert "refused: others may write to it (mode 777)" in result.stderr
    assert len(list(open_to_all.iterdir())) == 1
    if os.getuid() == 0:
        foreign = tmp_path / "foreign"
        foreign.mkdir(mode=0o700)
        os.chown(foreign, 65534, 65534)
    else:
        foreign = Path("/usr")  # root's
    result = _serve_refused(tmp_path, "--upload-dir", str(foreign))
    assert "refused: another user owns it" in result.stderr


@pytest.mark.skipif(os.getuid() != 0, reason="needs a symlink another user owns: made with chown, as root")
def test_a_neighbours_symlink_on_the_way_to_the_upload_dir_is_refused(tmp_path, important):
    link = tmp_path / "way"
    link.symlink_to(tmp_path)
    os.lchown(link, 65534, 65534)
    result = _serve_refused(tmp_path, "--upload-dir", str(link / "important"))
    assert "a symlink another user owns" in result.stderr
    assert all(text == "keep me" for text in _contents(important).values())


def test_cleaning_at_start_touches_only_the_servers_own_files(serve, tmp_path, important):
    leftover, stranger, lookalike = f"{uuid.uuid4().hex}.part", "notes.txt", f"{uuid.uuid4().hex}-x.mp4"
    given = tmp_path / "given"
    given.mkdir(mode=0o700)
    for name in (leftover, stranger):
        (given / name).write_text("left")
    (given / lookalike).symlink_to(important / "thesis.tex")  # a name of ours, but a symlink: not the server's
    serve(f"sqlite:///{tmp_path / 'a.db'}", "--upload-dir", str(given))
    assert sorted(p.name for p in given.iterdir()) == sorted([stranger, lookalike])
    assert (important / "thesis.tex").read_text() == "keep me"


def test_the_default_folder_is_the_users_own_and_private(tmp_path):
    from tests.helpers import CLI, REPO

    cache, port = tmp_path / "cache", free_port()
    folder = cache / "ferstream" / f"uploads-127.0.0.1-{port}"
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port), "--database", f"sqlite:///{tmp_path / 'c.db'}"],
                            env={**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(REPO)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: _answers(port))
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and folder.stat().st_uid == os.getuid()
        assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    finally:
        proc.terminate()
        proc.wait(30)
    assert not folder.exists()  # empty at the end: removed


def test_a_second_server_on_the_same_folder_is_refused_and_the_first_keeps_its_files(serve, tmp_path):
    first = serve(f"sqlite:///{tmp_path / 'a.db'}")
    first.uploads.mkdir(exist_ok=True)
    in_flight = first.uploads / f"{uuid.uuid4().hex}.part"
    in_flight.write_text("an upload arriving")
    result = _serve_refused(tmp_path, "--upload-dir", str(first.uploads))
    assert "is the upload folder of another ferstream serve that is running" in result.stderr
    assert in_flight.read_text() == "an upload arriving"
    with first.client() as client:
        assert client.get("/healthz").status_code == 200


def test_files_are_made_new_and_private_never_through_a_symlink(tmp_path):
    folder = UploadFolder.open(tmp_path / "uploads", "127.0.0.1", 8000)
    try:
        name = folder.new_name()
        assert OWN_NAME.fullmatch(name)
        with folder.create(name) as f:
            f.write(b"video")
        assert stat.S_IMODE((tmp_path / "uploads" / name).stat().st_mode) == 0o600
        target = tmp_path / "target"
        target.write_text("keep me")
        planted = folder.new_name()
        (tmp_path / "uploads" / planted).symlink_to(target)
        with pytest.raises(FileExistsError):
            folder.create(planted)
        with pytest.raises(ValueError):
            folder.create("../escape.part")
        assert target.read_text() == "keep me"
        assert folder.clean() == 1 and [p.name for p in (tmp_path / "uploads").iterdir()] == [planted]
    finally:
        folder.close()
    with pytest.raises(ConfigError, match="it is a symlink"):
        UploadFolder.open(tmp_path / "uploads" / planted, "127.0.0.1", 8000)


def test_an_upload_is_written_private(serve, tmp_path, astronaut_video):
    """While the server holds an upload (here: one it refuses only once it is whole), the file is 0600."""
    server = serve(f"sqlite:///{tmp_path / 'p.db'}")
    seen = []

    def body():
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n"
        yield b"x" * 1024
        _wait_for(lambda: any(server.uploads.iterdir()))
        seen.extend(stat.S_IMODE(p.stat().st_mode) for p in server.uploads.iterdir())
        yield b"\r\n--b--\r\n"

    with server.client() as client:
        response = client.post("/v1/videos", content=body(),
                               headers={"Content-Type": "multipart/form-data; boundary=b"})
    problem_of(response, 422)  # not a video: refused, and removed
    assert seen == [0o600] and not list(server.uploads.iterdir())


def _answers(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_for(condition, timeout: float = 120) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)
