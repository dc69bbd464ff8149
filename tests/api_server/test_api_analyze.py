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
