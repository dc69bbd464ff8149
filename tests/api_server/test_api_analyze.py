"""POST /v1/analyze: photos as multipart files or base64 JSON, analysed by the worker's code, the same faces as the
Python API; bad input refused with a clear problem+json, limits enforced."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest

from tests.api_server.conftest import SHARED_MAX_IMAGES, declared_only, problem_of


@pytest.fixture(scope="module")
def photo_bytes(small_faces_photo) -> bytes:
    return small_faces_photo.read_bytes()


def _faces(body: dict, index: int = 0) -> list[tuple]:
    return sorted((f["box"]["x"], f["box"]["y"], f["box"]["w"], f["box"]["h"], f["emotion"])
                  for f in body["images"][index]["faces"])


def test_a_photo_gives_the_faces_the_python_api_gives(api, small_faces_photo, photo_bytes):
    import ferstream

    with api.client() as client:
        response = client.post("/v1/analyze", files=[("images", ("group.jpg", photo_bytes, "image/jpeg"))])
    assert response.status_code == 200, response.text
    body = response.json()
    image = body["images"][0]
    assert (image["width"], image["height"], image["name"]) == (1600, 1000, "group.jpg")
    assert len(image["faces"]) == 5
    face = image["faces"][0]
    assert set(face["probabilities"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert abs(sum(face["probabilities"].values()) - 1) < 1e-3
    assert face["confidence"] == max(face["probabilities"].values())
    assert face["emotion"] == max(face["probabilities"], key=face["probabilities"].get)
    rows = ferstream.analyze(str(small_faces_photo))
    expected = sorted(zip(rows["x"], rows["y"], rows["w"], rows["h"], rows["emotion"]))
    assert _faces(body) == [tuple(e) for e in expected]
    for f in image["faces"]:  # the same probabilities too
        row = rows[(rows["x"] == f["box"]["x"]) & (rows["y"] == f["box"]["y"])].iloc[0]
        assert abs(row["happy"] - f["probabilities"]["happy"]) < 1e-5
        assert 0 <= f["quality"] <= 1 and abs(row["quality"] - f["quality"]) < 1e-5  # the worker's quality and flag
        assert f["uncertain"] == bool(row["uncertain"])


def test_base64_json_gives_the_same_faces_as_multipart(api, photo_bytes):
    encoded = base64.b64encode(photo_bytes).decode()
    with api.client() as client:
        multipart = client.post("/v1/analyze", files=[("images", ("a.jpg", photo_bytes, "image/jpeg")),
                                                      ("images", ("b.jpg", photo_bytes, "image/jpeg"))]).json()
        as_json = client.post("/v1/analyze", json={"images": [{"data": encoded, "name": "a.jpg"}, encoded]}).json()
    assert len(multipart["images"]) == len(as_json["images"]) == 2
    assert _faces(multipart, 0) == _faces(as_json, 0) == _faces(as_json, 1)
    assert as_json["images"][1]["name"] is None and as_json["model_version"]


def test_a_photo_without_faces_gives_an_empty_list(api):
    ok, grey = cv2.imencode(".png", np.full((240, 320, 3), 127, np.uint8))
    with api.client() as client:
        body = client.post("/v1/analyze", files={"images": ("grey.png", grey.tobytes(), "image/png")}).json()
    assert body["images"][0]["faces"] == []


@pytest.mark.parametrize("send, status, words", [
    (lambda c: c.post("/v1/analyze", json={"images": ["not base64 at all!"]}), 422, "image 0: not valid base64"),
    (lambda c: c.post("/v1/analyze", json={"images": [base64.b64encode(b"hello, I am text").decode()]}), 422,
     "image 0 is not an image"),
    (lambda c: c.post("/v1/analyze", files={"images": ("photo.jpg", b"plain text named .jpg", "image/jpeg")}), 422,
     "image 0 (photo.jpg) is not an image"),
    (lambda c: c.post("/v1/analyze", files={"images": ("empty.jpg", b"", "image/jpeg")}), 422, "is empty"),
    (lambda c: c.post("/v1/analyze", json={"pictures": []}), 422, "expected {\"images\""),
    (lambda c: c.post("/v1/analyze", json={"images": []}), 422, "no photo in the request"),
    (lambda c: c.post("/v1/analyze", content=b"{not json", headers={"Content-Type": "application/json"}), 400,
     "not valid JSON"),
    (lambda c: c.post("/v1/analyze", content=b"raw", headers={"Content-Type": "image/jpeg"}), 415, "multipart/form-data"),
    (lambda c: c.post("/v1/analyze", content=b"--x\r\nbroken", headers={"Content-Type": "multipart/form-data"}), 400,
     "boundary"),
])
def test_bad_input_gets_a_clear_problem(api, send, status, words):
    with api.client() as client:
        body = problem_of(send(client), status)
    assert words in body["detail"], body


def test_limits_images_per_request_pixels_and_body(api, photo_bytes):
    ok, big = cv2.imencode(".png", np.zeros((2000, 2000), np.uint8))  # 4 Mpx past the shared server's 3
    with api.client() as client:
        too_many = [("images", (f"{i}.jpg", photo_bytes, "image/jpeg")) for i in range(SHARED_MAX_IMAGES + 1)]
        assert f"at most {SHARED_MAX_IMAGES}" in problem_of(client.post("/v1/analyze", files=too_many), 413)["detail"]
        body = problem_of(client.post("/v1/analyze", files={"images": ("big.png", big.tobytes(), "image/png")}), 413)
        assert "2000x2000 pixels" in body["detail"]
    status, body = declared_only(api.server.port, "POST", "/v1/analyze", {
        "Authorization": f"Bearer {api.key}", "Content-Type": "application/json", "Content-Length": str(10**10)})
    assert status == 413 and "larger than the 64 MB accepted" in body


#: the shared photos of real people (``media``), all compared
MEDIA_PHOTOS = ("multi_face.jpg", "single_face.jpg", "obama_biden.jpg", "two_people.jpg", "soldier_bw.jpg",
                "free-mountain-vector-01.jpg")


def _same_faces_over_http_and_from_the_cli(serve, tmp_path, photos: list) -> int:
    """POST /v1/analyze and `ferstream analyze` (in-process, then the database's rows) give every photo the same
    faces, each with the same seven probabilities to 1e-4; the faces compared."""
    from ferstream import db
    from ferstream.db.queries import faces_table, find_source
    from ferstream.emotion_model import EMOTIONS
    from tests.helpers import ferstream as cli

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    cli("analyze", *map(str, photos), "--database", url)
    engine = db.connect(url)
    server = serve(f"sqlite:///{tmp_path / 'server.db'}")  # the default limits: the largest photo is 4.9 Mpx
    compared = 0
    with server.client() as client:
        for photo in photos:
            response = client.post("/v1/analyze", files={"images": (photo.name, photo.read_bytes(), "image/jpeg")})
            assert response.status_code == 200, response.text
            over_http = sorted(response.json()["images"][0]["faces"], key=lambda f: (f["box"]["x"], f["box"]["y"]))
            rows = faces_table(engine, find_source(engine, photo.name)).sort_values(["x", "y"])
            assert [(f["box"]["x"], f["box"]["y"], f["box"]["w"], f["box"]["h"]) for f in over_http] == \
                list(zip(rows["x"], rows["y"], rows["w"], rows["h"])), photo.name
            for face, (_, row) in zip(over_http, rows.iterrows()):
                for e in EMOTIONS:
                    assert abs(face["probabilities"][e] - row[e]) < 1e-4, (photo.name, e, face["probabilities"][e], row[e])
                assert face["emotion"] == row["emotion"] and abs(face["confidence"] - row["confidence"]) < 1e-4
                compared += 1
    return compared


def test_the_astronaut_photo_gets_the_same_probabilities_over_http_and_from_the_cli(serve, tmp_path):
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    photos = [tmp_path / "astronaut.png", tmp_path / "astronaut.jpg"]
    cv2.imwrite(str(photos[0]), photo)
    cv2.imwrite(str(photos[1]), photo, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert _same_faces_over_http_and_from_the_cli(serve, tmp_path, photos) >= 2


def test_the_shared_photos_get_the_same_probabilities_over_http_and_from_the_cli(serve, tmp_path, media):
    photos = [media / name for name in MEDIA_PHOTOS]
    assert _same_faces_over_http_and_from_the_cli(serve, tmp_path, photos) >= 10
