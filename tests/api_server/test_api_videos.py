"""POST /v1/videos and the results routes: an upload (or URL) answered 202, analysed in the server (no Redis), its
faces read page by page and as CSV or Parquet, its tracks and summary; bad uploads refused, nothing registered."""

from __future__ import annotations

import io
import time

import httpx
import pandas as pd
import pytest

from tests.api_server.conftest import SHARED_MAX_UPLOAD_MB, declared_only, problem_of, wait_for_source
from tests.helpers import counts

SECRET = "s3cr3t-pw"


@pytest.fixture(scope="module")
def analysed(api, astronaut_video) -> int:
    """The astronaut clip uploaded to the shared server and analysed: its source id."""
    with api.client() as client, open(astronaut_video, "rb") as f:
        response = client.post("/v1/videos", files={"file": ("talk.mp4", f, "video/mp4")},
                               data={"name": "talk", "sample_fps": "5"})
        assert response.status_code == 202, response.text
        body = response.json()
        assert response.headers["location"] == body["url"] == f"/v1/sources/{body['id']}"
        source = wait_for_source(client, body["id"])
    assert source["status"] == "done" and source["name"] == "talk" and source["progress"] == 1.0
    return body["id"]


def test_an_upload_is_analysed_and_deleted_and_its_source_says_so(api, analysed):
    expected = counts(api.database_url, analysed)
    with api.client() as client:
        source = client.get(f"/v1/sources/{analysed}").json()
        listed = {s["id"]: s for s in client.get("/v1/sources").json()}
    assert source == listed[analysed]
    assert source["kind"] == "file" and source["frames_analysed"] == expected["frames"] == 20  # 4 s at 5 fps
    assert source["faces"] == expected["faces"] > 0 and source["error"] is None
    assert "uri" not in source  # the server's paths are not shown
    wait_for_uploads_gone(api)


def wait_for_uploads_gone(api, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while any(api.server.uploads.iterdir()) if api.server.uploads.exists() else False:
        assert time.monotonic() < deadline, list(api.server.uploads.iterdir())
        time.sleep(0.1)


def test_every_face_page_by_page_as_csv_and_as_parquet(api, analysed):
    from ferstream import db
    from ferstream.db.queries import faces_table

    table = faces_table(db.connect(api.database_url), analysed)
    with api.client() as client:
        paged, cursor = [], None
        while True:
            page = client.get(f"/v1/sources/{analysed}/faces", params={"limit": 7, **({"cursor": cursor} if cursor else {})}).json()
            paged += page["faces"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        after_the_end = client.get(f"/v1/sources/{analysed}/faces", params={"cursor": cursor}).json()
        assert after_the_end == {"faces": [], "next_cursor": cursor, "has_more": False}  # a place to poll from
        as_csv = client.get(f"/v1/sources/{analysed}/faces", headers={"Accept": "text/csv"})
        as_parquet = client.get(f"/v1/sources/{analysed}/faces", params={"format": "parquet"})
    assert [(r["frame_index"], r["face_index"]) for r in paged] == list(zip(table["frame_index"], table["face_index"]))
    assert [r["emotion"] for r in paged] == list(table["emotion"])
    assert as_csv.headers["content-type"].startswith("text/csv")
    csv = pd.read_csv(io.StringIO(as_csv.text))
    assert list(csv["frame_index"]) == list(table["frame_index"]) and list(csv["track_id"]) == list(table["track_id"])
    parquet = pd.read_parquet(io.BytesIO(as_parquet.content))
    assert len(parquet) == len(table) and list(parquet["happy"]) == pytest.approx(list(table["happy"]))


def test_face_filters(api, analysed):
    with api.client() as client:
        every = client.get(f"/v1/sources/{analysed}/faces", params={"limit": 10000}).json()["faces"]
        late = client.get(f"/v1/sources/{analysed}/faces", params={"start": 2.0, "end": 3.0}).json()["faces"]
        happy = client.get(f"/v1/sources/{analysed}/faces", params={"emotion": "happy"}).json()["faces"]
        track = client.get(f"/v1/sources/{analysed}/faces", params={"track": 1}).json()["faces"]
        problem_of(client.get(f"/v1/sources/{analysed}/faces", params={"emotion": "bored"}), 422)
        quality = client.get(f"/v1/sources/{analysed}/faces", params={"min_quality": 0.5})
        from ferstream.db.face_pages import has_quality

        assert quality.status_code == (200 if has_quality() else 422), quality.text
        problem_of(client.get(f"/v1/sources/{analysed}/faces", params={"cursor": "garbage!"}), 422)
        problem_of(client.get(f"/v1/sources/{analysed}/faces", params={"format": "xml"}), 422)
        problem_of(client.get(f"/v1/sources/{analysed}/faces", headers={"Accept": "image/png"}), 406)
    assert late and all(2.0 <= f["timestamp"] <= 3.0 for f in late)
    assert len(late) == sum(2.0 <= f["timestamp"] <= 3.0 for f in every)
    assert len(happy) == sum(f["emotion"] == "happy" for f in every)
    assert track and all(f["track_id"] == 1 for f in track)


def test_tracks_and_summary(api, analysed):
    from ferstream import db
    from ferstream.db.queries import tracks_table

    with api.client() as client:
        tracks = client.get(f"/v1/sources/{analysed}/tracks").json()["tracks"]
        summary = client.get(f"/v1/sources/{analysed}/summary").json()
    table = tracks_table(db.connect(api.database_url), analysed)
    assert [t["track_id"] for t in tracks] == list(table["track_id"])
    assert tracks[0]["faces"] == table["faces"].iloc[0] and abs(sum(tracks[0]["shares"].values()) - 1) < 1e-6
    assert summary["people"] == len(table) and summary["dominant_emotion"] == "happy"
    assert sum(e["faces"] for e in summary["emotions"].values()) == summary["source"]["faces"]


def test_unknown_sources_and_bad_ids(api):
    with api.client() as client:
        for path in ("/v1/sources/999999", "/v1/sources/999999/faces", "/v1/sources/999999/tracks",
                     "/v1/sources/999999/summary"):
            assert "no source with id 999999" in problem_of(client.get(path), 404)["detail"]
        problem_of(client.get("/v1/sources/abc"), 422)
        problem_of(client.get("/v1/sources/0"), 422)
        assert "no route GET" in problem_of(client.get("/v1/sources/..%2F..%2Fetc%2Fpasswd"), 404)["detail"]
        assert "no route GET /v1/nothing-here" in problem_of(client.get("/v1/nothing-here"), 404)["detail"]
        problem_of(client.put("/v1/sources"), 405)


def _source_count(api) -> int:
    with api.client() as client:
        return len(client.get("/v1/sources").json())


def test_an_upload_sent_chunked_in_small_pieces_is_analysed_whole(api, analysed, astronaut_video):
    """No Content-Length (Transfer-Encoding: chunked), the video cut into 4 KiB pieces across the part boundaries:
    the server streams it to disk and analyses every frame the plain upload gave."""
    video = astronaut_video.read_bytes()
    body = (b"--b0und\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nchunked\r\n"
            b"--b0und\r\nContent-Disposition: form-data; name=\"sample_fps\"\r\n\r\n5\r\n"
            b"--b0und\r\nContent-Disposition: form-data; name=\"file\"; filename=\"talk.mp4\"\r\n"
            b"Content-Type: video/mp4\r\n\r\n" + video + b"\r\n--b0und--\r\n")

    def pieces():
        for i in range(0, len(body), 4096):
            yield body[i:i + 4096]

    with api.client() as client:
        response = client.post("/v1/videos", content=pieces(), headers={"Content-Type": "multipart/form-data; boundary=b0und"})
        assert response.status_code == 202, response.text
        assert "content-length" not in {k.lower() for k in response.request.headers}
        source = wait_for_source(client, response.json()["id"])
        plain = client.get(f"/v1/sources/{analysed}").json()
    assert source["status"] == "done" and source["name"] == "chunked"
    assert source["frames_analysed"] == plain["frames_analysed"] == 20 and source["faces"] == plain["faces"]
    wait_for_uploads_gone(api)


def test_a_text_file_named_mp4_is_refused_and_nothing_is_registered(api, tmp_path):
    before = _source_count(api)
    with api.client() as client:
        body = problem_of(client.post("/v1/videos", files={"file": ("talk.mp4", b"just text\n" * 100, "video/mp4")}), 422)
        empty = problem_of(client.post("/v1/videos", files={"file": ("empty.mp4", b"", "video/mp4")}), 422)
        none = problem_of(client.post("/v1/videos", data={"name": "no file"}, files={"other": ("x", b"1")}), 422)
    assert body["detail"] == "talk.mp4 is not a video: no frame of it can be decoded"
    assert "empty.mp4 is empty" in empty["detail"] and "send the video as `file`" in none["detail"]
    assert str(api.server.uploads) not in str(body) and "/tmp" not in str(body)
    assert _source_count(api) == before
    wait_for_uploads_gone(api)


def test_a_limit_under_a_megabyte_is_said_in_bytes(api):
    from ferstream.api_server.uploads import size_text

    with api.client() as client:  # a JSON body of POST /v1/videos: at most 64 KiB
        body = problem_of(client.post("/v1/videos", json={"url": "http://x/a.mp4", "name": "n" * 70_000}), 413)
    assert "the request is larger than the 65,536 bytes accepted" in body["detail"] and " 0 MB" not in body["detail"]
    assert [size_text(n) for n in (1, 65_536, 1024 * 1024, 3 * 1024 * 1024 // 2, 2048 * 1024 * 1024)] == \
        ["1 bytes", "65,536 bytes", "1 MB", "1.5 MB", "2,048 MB"]


def test_an_upload_past_the_limit_is_refused_at_the_limit_without_filling_the_disk(api):
    before = _source_count(api)
    # declared 3 GB: refused before a byte of it is read
    status, body = declared_only(api.server.port, "POST", "/v1/videos", {
        "Authorization": f"Bearer {api.key}", "Content-Type": "multipart/form-data; boundary=x",
        "Content-Length": str(3 * 1024**3)})
    assert status == 413 and f"larger than the {SHARED_MAX_UPLOAD_MB} MB accepted" in body
    # not declared (chunked): read up to the limit, then refused, and what was written goes
    sent = {"bytes": 0}

    def endless():
        yield b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.mp4\"\r\n\r\n"
        block = b"\0" * (1024 * 1024)
        while sent["bytes"] < 200 * 1024 * 1024:
            sent["bytes"] += len(block)
            yield block

    with api.client() as client:
        try:
            response = client.post("/v1/videos", content=endless(), headers={"Content-Type": "multipart/form-data; boundary=x"})
            problem_of(response, 413)
        except httpx.HTTPError:  # the server answered and closed while the body was still going: also a refusal
            pass
    assert sent["bytes"] < 200 * 1024 * 1024, "the server read the whole body"
    wait_for_uploads_gone(api)
    assert _source_count(api) == before


def test_video_urls_local_files_and_streams(api, astronaut_video, tmp_path):
    """The URL policy's refusals (fetching a URL, and refusing this machine's: test_api_hostile)."""
    with api.client() as client:
        for url, words in ((f"file://{astronaut_video}", "local files (file:// URLs and paths) are refused"),
                           (str(astronaut_video), "local files"), ("/etc/passwd", "local files"),
                           (f"rtsp://admin:{SECRET}@cam.local/stream", "a live stream, not a video file"),
                           ("gopher://x/y", "the gopher: protocol is refused"), ("", "an empty URL"),
                           ("ftp://x/a.mp4", "the ftp: protocol is refused"), ("  ", "an empty URL"),
                           (f"concat:{astronaut_video}", "the concat: protocol is refused")):
            body = problem_of(client.post("/v1/videos", json={"url": url}), 422)
            assert words in body["detail"] and SECRET not in str(body), body
            if url.strip() in ("gopher://x/y", "ftp://x/a.mp4", ""):  # neither a stream nor a local file
                assert "live stream" not in body["detail"] and "local file" not in body["detail"], body
        problem_of(client.post("/v1/videos", json={"url": "http://x/a.mp4", "sample_fps": -1}), 422)


def test_local_files_only_with_allow_local_files(serve, tmp_path, astronaut_video):
    from tests.api_server.conftest import make_key

    url = f"sqlite:///{tmp_path / 'local.db'}"
    key = make_key(url, "ops")
    server = serve(url, "--allow-local-files")
    with server.client(key) as client:
        response = client.post("/v1/videos", json={"url": f"file://{astronaut_video}", "sample_fps": 2})
        assert response.status_code == 202, response.text
        assert wait_for_source(client, response.json()["id"])["status"] == "done"
        problem_of(client.post("/v1/videos", json={"url": "relative/path.mp4"}), 422)
    assert astronaut_video.exists()  # a local file is read, never deleted


def test_no_password_of_a_database_or_redis_url_in_any_answer(serve, tmp_path, astronaut_video):
    from tests.conftest import free_port

    url = f"sqlite:///{tmp_path / 'secret.db'}"
    redis = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0"  # nothing listens there
    server = serve(url, "--redis", redis)
    with server.client() as client:
        ready = problem_of(client.get("/readyz"), 503)
        with open(astronaut_video, "rb") as f:
            submitted = problem_of(client.post("/v1/videos", files={"file": ("a.mp4", f, "video/mp4")}), 503)
    assert "***" in submitted["detail"], submitted  # the URL is named, masked
    for body in (ready, submitted):
        assert SECRET not in str(body), body
        assert str(tmp_path) not in str(body) and "Traceback" not in str(body)
    assert ready["checks"]["database"] == "ok" and "unreachable" in ready["checks"]["redis"]
    assert SECRET not in server.log()
