"""serve against a hostile caller (issue 45): URLs of this machine in every spelling, a redirect to one, metadata and
pseudo-protocol cameras, a foreign Host, another site's page, a read-only key that analyses, deep JSON. Each one is
refused, and nothing is connected to, created, changed or lost."""

from __future__ import annotations

import functools
import http.server
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from tests.api_server.conftest import make_key, problem_of, wait_for_source
from tests.conftest import free_port

REFUSED = "refused: the server fetches videos from public addresses only"


class _CountingServer(http.server.ThreadingHTTPServer):
    """An HTTP server that counts the connections it accepts."""

    connections = 0

    def process_request(self, request, client_address):
        self.connections += 1
        super().process_request(request, client_address)


class _Handler(http.server.SimpleHTTPRequestHandler):
    """A folder's files; ``/go?to=URL`` redirects to URL."""

    def do_GET(self):
        if self.path.startswith("/go?to="):
            self.send_response(302)
            self.send_header("Location", unquote(self.path[len("/go?to="):]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return super().do_GET()

    def log_message(self, *args) -> None:
        pass


@contextmanager
def counting_server(folder: Path, host: str = "127.0.0.1"):
    server = _CountingServer((host, 0), functools.partial(_Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _sources(client) -> int:
    return len(client.get("/v1/sources").json())


# SSRF: POST /v1/videos -------------------------------------------------------------------------------------------


def test_urls_of_this_machine_and_its_networks_are_refused_alike_and_never_connected_to(api, astronaut_video):
    with counting_server(astronaut_video.parent) as listening, api.client() as client:
        before = _sources(client)
        port, dead = listening.server_address[1], free_port()
        answers = {}
        for host in ("127.0.0.1", "localhost", "2130706433", "0x7f.1", "127.1", "0177.0.0.1", "[::ffff:127.0.0.1]",
                     "[::1]", "10.0.0.1", "172.16.0.1", "192.168.0.1", "169.254.169.254", "[fc00::1]", "[fe80::1]"):
            for where, p in (("listening", port), ("nothing", dead)):
                url = f"http://{host}:{p}/{astronaut_video.name}"
                body = problem_of(client.post("/v1/videos", json={"url": url}), 422)
                answers[host, where] = body["detail"].replace(url, "URL")
        assert set(answers.values()) == {f"URL: {REFUSED}, and this URL's host is (or resolves to) an address of this "
                                         "machine or of a private, link-local or reserved network (start the server "
                                         "with --allow-url-net CIDR to open a network)"}, answers
        assert _sources(client) == before
    assert listening.connections == 0  # the check is made before any connection, not after FFmpeg's


def test_an_allowed_network_is_fetched_and_analysed_and_a_redirect_out_of_it_is_refused(serve, tmp_path,
                                                                                        astronaut_video):
    url = f"sqlite:///{tmp_path / 'fetch.db'}"
    server = serve(url, "--allow-url-net", "127.0.0.1/32")
    with counting_server(astronaut_video.parent) as allowed, \
            counting_server(astronaut_video.parent, "127.0.0.2") as outside, server.client() as client:
        base = f"http://127.0.0.1:{allowed.server_address[1]}"
        response = client.post("/v1/videos", json={"url": f"{base}/{astronaut_video.name}", "name": "remote",
                                                   "sample_fps": 2})
        assert response.status_code == 202, response.text
        source = wait_for_source(client, response.json()["id"])
        assert source["status"] == "done" and source["name"] == "remote" and source["frames_analysed"] == 8
        missing = problem_of(client.post("/v1/videos", json={"url": f"{base}/missing.mp4"}), 422)
        assert "missing.mp4: it answered 404" in missing["detail"]
        before = _sources(client)
        elsewhere = f"http://127.0.0.2:{outside.server_address[1]}/{astronaut_video.name}"
        for target in (elsewhere, "http://169.254.169.254/latest/meta-data/", f"file://{astronaut_video}",
                       "gopher://127.0.0.1/x"):
            body = problem_of(client.post("/v1/videos", json={"url": f"{base}/go?to={quote(target, safe='')}"}), 422)
            assert "refused" in body["detail"], body
        assert _sources(client) == before
        assert allowed.connections >= 6
    assert outside.connections == 0
    assert not list(server.uploads.iterdir())  # what was fetched went with its ingest


# cameras: pseudo-protocols and metadata addresses ----------------------------------------------------------------


def test_pseudo_protocol_and_metadata_cameras_are_refused_and_nothing_is_kept(api, astronaut_video):
    name = f"cam-{uuid.uuid4().hex[:8]}"
    with api.client() as client:
        for url in (f"concat:{astronaut_video}", f"subfile,,start,0,end,0,,:{astronaut_video}", "gopher://cam/x",
                    "ftp://cam/x", "data:video/mp4;base64,AAAA", "http://169.254.169.254/latest/meta-data/",
                    "http://2852039166/", "rtsp://[fd00:ec2::254]/x", "rtsp://[fe80::1%25eth0]/x", "/etc/passwd"):
            body = problem_of(client.post("/v1/cameras", json={"name": name, "url": url}), 422)
            assert "refused" in body["detail"] or "not a camera" in body["detail"], body
            problem_of(client.get(f"/v1/cameras/{name}"), 404)
        exists, absent = (problem_of(client.post("/v1/cameras", json={"name": name, "url": path}), 422)["detail"]
                          .replace(path, "PATH") for path in (str(astronaut_video), "/no/such/video.mp4"))
        assert exists == absent  # no oracle of the server's files
        added = client.post("/v1/cameras", json={"name": name, "url": "rtsp://192.168.1.10/stream"})
        assert added.status_code == 201, added.text  # a LAN camera stays allowed
        body = problem_of(client.patch(f"/v1/cameras/{name}", json={"url": "http://169.254.169.254/x"}), 422)
        assert "link-local or cloud metadata address" in body["detail"]
        assert client.get(f"/v1/cameras/{name}").json()["url"] == "rtsp://192.168.1.10/stream"  # unchanged
        assert client.delete(f"/v1/cameras/{name}").status_code == 204


# Host and Origin ---------------------------------------------------------------------------------------------------


def test_a_host_name_the_server_does_not_serve_is_refused(api, serve, tmp_path):
    port = api.server.port
    name = f"cam-{uuid.uuid4().hex[:8]}"
    with api.client() as client:
        for host in ("attacker.example", f"attacker.example:{port}", f"rebind.127.0.0.1.nip.io:{port}", ""):
            problem_of(client.get("/v1/sources", headers={"Host": host}), 400)
            problem_of(client.post("/v1/cameras", json={"name": name, "url": "rtsp://cam/x"}, headers={"Host": host}),
                       400)
        problem_of(client.get(f"/v1/cameras/{name}"), 404)  # nothing made
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST"):
            assert client.get("/v1/sources", headers={"Host": host}).status_code == 200, host
    url = f"sqlite:///{tmp_path / 'hosts.db'}"
    named = serve(url, "--allowed-host", "api.example.com")
    with named.client() as client:
        assert client.get("/healthz", headers={"Host": "api.example.com"}).status_code == 200
        problem_of(client.get("/healthz", headers={"Host": "other.example.com"}), 400)


def test_changes_from_another_sites_page_are_refused_and_others_pass(api, serve, tmp_path):
    name = f"cam-{uuid.uuid4().hex[:8]}"
    evil = {"Origin": "https://evil.example"}
    with api.client() as client:
        for origin in ("https://evil.example", "null", f"http://127.0.0.1:{api.server.port + 1}"):
            body = problem_of(client.post("/v1/cameras", json={"name": name, "url": "rtsp://cam/x"},
                                          headers={"Origin": origin}), 403)
            assert "another site" in body["detail"]
        problem_of(client.get(f"/v1/cameras/{name}"), 404)
        assert client.post("/v1/cameras", json={"name": name, "url": "rtsp://cam/x"}).status_code == 201  # no Origin
        problem_of(client.delete(f"/v1/cameras/{name}", headers=evil), 403)
        problem_of(client.patch(f"/v1/cameras/{name}", json={"enabled": False}, headers=evil), 403)
        kept = client.get(f"/v1/cameras/{name}", headers=evil)  # reading is not refused (CORS keeps it from the page)
        assert kept.status_code == 200 and kept.json()["enabled"] is True
        own = {"Origin": f"http://127.0.0.1:{api.server.port}"}  # the server's own page (/docs)
        assert client.delete(f"/v1/cameras/{name}", headers=own).status_code == 204
    url = f"sqlite:///{tmp_path / 'cors.db'}"
    key = make_key(url, "web")
    app_origin = serve(url, "--cors-origin", "https://app.example.com")
    with app_origin.client(key) as client:
        response = client.post("/v1/cameras", json={"name": name, "url": "rtsp://cam/x"},
                               headers={"Origin": "https://app.example.com"})
        assert response.status_code == 201 and response.headers["access-control-allow-origin"] == "https://app.example.com"
        problem_of(client.delete(f"/v1/cameras/{name}", headers=evil), 403)


# read-only keys and deep JSON --------------------------------------------------------------------------------------


def test_a_read_only_key_cannot_analyse(api, small_faces_photo):
    import base64

    photo = small_faces_photo.read_bytes()
    with api.client(api.read_only_key) as client:
        multipart = problem_of(client.post("/v1/analyze", files=[("images", ("a.jpg", photo, "image/jpeg"))]), 403)
        as_json = problem_of(client.post("/v1/analyze", json={"images": [base64.b64encode(photo).decode()]}), 403)
        assert client.get("/v1/sources").status_code == 200  # it still reads
    assert "read-only" in multipart["detail"] and "analyse" in multipart["detail"] and as_json == multipart


@pytest.mark.parametrize("deep", ["[" * 20_000 + "]" * 20_000, '{"a":' * 10_000 + "1" + "}" * 10_000],
                         ids=["lists", "objects"])  # each under every route's size limit (64 kB)
def test_deep_json_is_refused_clearly_on_every_json_route(api, deep):
    with api.client() as client:
        before = client.get("/v1/cameras").json()
        for method, path, content_type in (("POST", "/v1/analyze", "application/json"),
                                           ("POST", "/v1/videos", "application/json"),
                                           ("POST", "/v1/cameras", "application/json"),
                                           ("PATCH", "/v1/cameras/lobby", "application/json"),
                                           ("PATCH", "/v1/cameras/lobby", "application/merge-patch+json")):
            response = client.request(method, path, content=deep.encode(), headers={"Content-Type": content_type})
            body = problem_of(response, 422)
            assert body["detail"] == "the JSON body is nested deeper than 64 levels: refused unread", body
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/cameras").json() == before
        brackets_in_a_string = client.post("/v1/videos", json={"url": "gopher://x/" + "[" * 500})
        assert "the gopher: protocol is refused" in problem_of(brackets_in_a_string, 422)["detail"]
