"""The results routes say what they count: the summary and tracks count uncertain faces apart (and in, on
request), a failed source shows how far it got, and paging ends where the rows end. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.helpers import FLAGGED_CERTAIN, FLAGGED_FRAMES, write_flagged_source


@pytest.fixture
def flagged(serve, database_url):
    """A server (loopback, no key made: none needed) and a source with uncertain faces: the server, the source id."""
    source_id = write_flagged_source(database_url)
    return serve(database_url), source_id


def test_the_summary_says_how_many_uncertain_faces_it_left_out_and_counts_them_on_request(flagged):
    server, sid = flagged
    uncertain = 2 * FLAGGED_FRAMES - FLAGGED_CERTAIN
    with server.client() as client:
        summary = client.get(f"/v1/sources/{sid}/summary").json()
        everything = client.get(f"/v1/sources/{sid}/summary", params={"include_uncertain": "true"}).json()
    assert summary["include_uncertain"] is False and summary["uncertain_faces"] == uncertain
    assert summary["faces_counted"] == FLAGGED_CERTAIN == sum(e["faces"] for e in summary["emotions"].values())
    assert summary["faces_counted"] + summary["uncertain_faces"] == summary["source"]["faces"] == 2 * FLAGGED_FRAMES
    assert f"{uncertain} uncertain faces left out" in summary["counted"] and "include_uncertain=true" in summary["counted"]
    assert summary["dominant_emotion"] == "happy" and summary["emotions"]["happy"]["share"] == 1.0
    assert summary["emotions"]["sad"] == {"faces": 0, "share": 0.0, "mean_confidence": None, "uncertain": 6}
    assert summary["emotions"]["neutral"]["uncertain"] == FLAGGED_FRAMES

    assert everything["include_uncertain"] is True and everything["uncertain_faces"] == uncertain
    assert everything["faces_counted"] == 2 * FLAGGED_FRAMES and everything["dominant_emotion"] == "neutral"
    assert everything["emotions"]["neutral"]["share"] == 0.5 and everything["emotions"]["sad"]["faces"] == 6


def test_tracks_give_uncertain_faces_and_mean_quality_and_a_track_all_uncertain_has_no_emotion(flagged):
    server, sid = flagged
    with server.client() as client:
        response = client.get(f"/v1/sources/{sid}/tracks")
        assert response.status_code == 200, response.text  # NaN shares of an all-uncertain track: null, not a 500
        tracks = {t["uncertain_faces"]: t for t in response.json()["tracks"]}
        everything = client.get(f"/v1/sources/{sid}/tracks", params={"include_uncertain": True}).json()
    left, right = tracks[6], tracks[FLAGGED_FRAMES]  # the left person: 6 of 10 uncertain; the right one: all
    assert left["faces"] == right["faces"] == FLAGGED_FRAMES
    assert left["dominant_emotion"] == "happy" and left["shares"]["happy"] == 1.0
    assert 0 < left["mean_quality"] < 1 and right["mean_quality"] == pytest.approx(0.1)
    assert right["dominant_emotion"] is None and set(right["shares"].values()) == {None}
    assert everything["include_uncertain"] is True
    assert {t["dominant_emotion"] for t in everything["tracks"]} == {"sad", "neutral"}


@pytest.mark.parametrize("limit", [5, 10, 20])
def test_has_more_is_false_on_an_exactly_full_last_page(flagged, limit):
    server, sid = flagged
    rows, pages, cursor = [], [], None
    with server.client() as client:
        while True:
            page = client.get(f"/v1/sources/{sid}/faces",
                              params={"limit": limit, **({"cursor": cursor} if cursor else {})}).json()
            rows += page["faces"]
            pages.append(len(page["faces"]))
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
    assert len(rows) == 2 * FLAGGED_FRAMES  # 20 faces: every page is full, the last one included
    assert pages == [limit] * (2 * FLAGGED_FRAMES // limit)  # and no empty page after it
    assert len({(r["frame_index"], r["face_index"]) for r in rows}) == len(rows)


def test_a_failed_source_shows_how_far_it_got(serve, database_url, astronaut_video):
    from ferstream import db
    from ferstream.db.queries import progress
    from ferstream.errors import VideoError
    from ferstream.ingest.files import ingest_file
    from ferstream.settings import Settings
    from ferstream.worker.inline import InlineSink
    from ferstream.worker.runtime import Runtime

    class BreaksAfterTheFirstChunk(InlineSink):
        """The in-process analysis; its second chunk fails, as a stream that breaks part-way."""

        def put(self, chunk):
            if chunk.index > 0:
                raise VideoError("the stream broke")
            super().put(chunk)

    settings = Settings.from_env(database_url=database_url, redis_url=None)
    engine = db.connect(database_url)
    with pytest.raises(VideoError):
        ingest_file(engine, astronaut_video, BreaksAfterTheFirstChunk(Runtime(settings)), settings, sample_fps=5)
    (sid,) = [int(i) for i in db.queries.sources(engine)["id"]]
    row = progress(engine, sid)
    assert row["state"] == "failed" and row["frames_failed"] > 0 and row["frames_analysed"] > 0
    expected = round(row["duration_s"] * row["sample_fps"])
    with serve(database_url).client() as client:
        source = client.get(f"/v1/sources/{sid}").json()
    assert source["status"] == "failed"
    assert source["progress"] == pytest.approx(row["frames_analysed"] / expected) and source["progress"] < 1
