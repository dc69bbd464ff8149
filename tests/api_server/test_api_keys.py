"""API keys: made by the CLI (shown once, stored hashed), needed on every route but /healthz, revocable; read-only
keys read; the server refuses an address other machines reach without a key."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.api_server.conftest import make_key, problem_of
from tests.conftest import free_port
from tests.helpers import ferstream

#: every route but /healthz and the docs, one request each
ROUTES = [("GET", "/readyz"), ("GET", "/metrics"), ("POST", "/v1/analyze"),
          ("POST", "/v1/videos"), ("GET", "/v1/sources"), ("GET", "/v1/sources/1"), ("GET", "/v1/sources/1/faces"),
          ("GET", "/v1/sources/1/tracks"), ("GET", "/v1/sources/1/summary"), ("GET", "/v1/live"),
          ("GET", "/v1/cameras"), ("POST", "/v1/cameras"), ("GET", "/v1/cameras/lobby"),
          ("PATCH", "/v1/cameras/lobby"), ("DELETE", "/v1/cameras/lobby")]


def test_the_key_is_printed_once_alone_on_its_last_line_and_only_its_hash_is_stored(tmp_path):
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'keys.db'}"
    out = ferstream("apikey", "create", "--name", "booking system", "--database", url).stdout
    key = out.strip().splitlines()[-1]
    assert key.startswith("fsk_") and len(key) > 40 and " " not in key
    listed = ferstream("apikey", "list", "--database", url).stdout
    assert "booking system" in listed and key[:10] in listed and key not in listed and "active" in listed
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM api_keys")).mappings().one()
    engine.dispose()
    assert key not in " ".join(map(str, row.values())) and len(row["key_hash"]) == 64
    assert key.encode() not in (tmp_path / "keys.db").read_bytes()


@pytest.mark.parametrize("header", [None, "Bearer fsk_not-a-key", "Bearer", "Basic dXNlcjpwdw==", "fsk_no-scheme"])
def test_every_route_but_healthz_refuses_a_missing_or_wrong_key(api, header):
    headers = {"Authorization": header} if header is not None else {}
    with httpx.Client(base_url=api.server.url, headers=headers, timeout=30) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        for method, path in ROUTES:
            response = client.request(method, path)
            body = problem_of(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer"), (method, path)
            assert "fsk_" not in body["detail"], body


def test_a_revoked_key_is_refused_from_the_next_request_on(api):
    key = make_key(api.database_url, "to revoke")
    with api.client(key) as client:
        assert client.get("/v1/sources").status_code == 200
        ferstream("apikey", "revoke", "to revoke", "--database", api.database_url)
        problem_of(client.get("/v1/sources"), 401)
    assert "revoked" in ferstream("apikey", "list", "--database", api.database_url).stdout


def test_a_read_only_key_reads_but_cannot_submit_change_cameras_or_delete(api, astronaut_video):
    with api.client(api.read_only_key) as client:
        assert client.get("/v1/sources").status_code == 200
        assert client.get("/v1/cameras").status_code == 200
        assert client.get("/readyz").status_code == 200
        with open(astronaut_video, "rb") as f:
            problem_of(client.post("/v1/videos", files={"file": ("a.mp4", f, "video/mp4")}), 403)
        problem_of(client.post("/v1/videos", json={"url": "http://127.0.0.1:9/a.mp4"}), 403)
        problem_of(client.post("/v1/cameras", json={"name": "ro", "url": "rtsp://cam/stream"}), 403)
        problem_of(client.patch("/v1/cameras/ro", json={"enabled": False}), 403)
        problem_of(client.delete("/v1/cameras/ro"), 403)
    with api.client() as client:
        assert client.get("/v1/cameras/ro").status_code == 404  # nothing was added


def test_revoking_an_unknown_key_says_so(api):
    result = ferstream("apikey", "revoke", "nobody", "--database", api.database_url, check=False)
    assert result.returncode == 2 and "no API key with id or name 'nobody'" in result.stderr


def test_a_name_belongs_to_one_active_key_and_revoke_says_how_many_it_revoked(database_url):
    first = make_key(database_url, "booking")
    taken = ferstream("apikey", "create", "--name", " booking ", "--database", database_url, check=False)
    assert taken.returncode == 2, taken.stdout + taken.stderr
    assert "already named 'booking'" in taken.stderr and "choose another --name" in taken.stderr
    assert "fsk_" not in taken.stdout + taken.stderr  # no second key was made, nor shown
    listed = ferstream("apikey", "list", "--database", database_url).stdout
    assert listed.count("booking") == 1 and first[:10] in listed
    revoked = ferstream("apikey", "revoke", "booking", "--database", database_url).stdout
    assert "revoked 1 API key: key " in revoked and first[:10] in revoked
    second = make_key(database_url, "booking")  # a revoked key's name is free again
    again = ferstream("apikey", "revoke", "booking", "--database", database_url).stdout
    assert "revoked 1 API key: key " in again and second[:10] in again and "(1 more of that name revoked already)" in again
    nothing = ferstream("apikey", "revoke", "booking", "--database", database_url).stdout
    assert nothing.startswith("nothing to revoke: ") and "were revoked already" in nothing


def test_revoke_by_a_name_two_old_active_keys_share_revokes_both_and_says_so(sqlite_url):
    from sqlalchemy import update

    from ferstream import db
    from ferstream.db.models import ApiKey

    keys = [make_key(sqlite_url, "old"), make_key(sqlite_url, "older")]
    engine = db.connect(sqlite_url)
    with engine.begin() as conn:  # a database from before names were unique
        conn.execute(update(ApiKey).where(ApiKey.name == "older").values(name="old"))
    engine.dispose()
    out = ferstream("apikey", "revoke", "old", "--database", sqlite_url).stdout
    assert out.startswith("revoked 2 API keys: key ") and all(k[:10] in out for k in keys), out
    assert ferstream("apikey", "list", "--database", sqlite_url).stdout.count("revoked") == 2


def test_a_server_on_an_address_other_machines_reach_refuses_to_start_without_a_key(tmp_path):
    url = f"sqlite:///{tmp_path / 'open.db'}"
    result = ferstream("serve", "--host", "0.0.0.0", "--port", str(free_port()), "--database", url, check=False,
                       timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "refusing to listen on 0.0.0.0" in result.stderr and "ferstream apikey create" in result.stderr
    assert "no API key was made yet" in result.stderr


def test_a_server_whose_every_key_is_revoked_says_so(serve, tmp_path):
    url = f"sqlite:///{tmp_path / 'revoked.db'}"
    make_key(url, "gone")
    ferstream("apikey", "revoke", "gone", "--database", url)
    result = ferstream("serve", "--host", "0.0.0.0", "--port", str(free_port()), "--database", url, check=False,
                       timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "every API key is revoked (1 revoked, none active)" in result.stderr, result.stderr
    assert "made yet" not in result.stderr
    server = serve(url)  # on loopback: every request refused, and the banner says why
    with server.client() as client:
        problem_of(client.get("/v1/sources"), 401)
    assert "every API key is revoked" in server.log() and "no API key made yet" not in server.log()


def test_on_loopback_before_any_key_is_made_no_key_is_needed_and_the_first_key_ends_that(serve, tmp_path):
    url = f"sqlite:///{tmp_path / 'laptop.db'}"
    server = serve(url)
    with server.client() as client:
        assert client.get("/v1/sources").json() == []
        key = make_key(url, "first")
        problem_of(client.get("/v1/sources"), 401)
    with server.client(key) as client:
        assert client.get("/v1/sources").status_code == 200
    assert "no API key made yet" in server.log()


def test_docs_schema_metrics_and_readiness_with_a_key(api):
    with api.client(None) as stranger:
        problem_of(stranger.get("/v1/sources/1"), 401)
    with api.client() as client:
        schema = client.get("/openapi.json").json()
        assert {"/v1/analyze", "/v1/videos", "/v1/sources", "/v1/sources/{source_id}/faces", "/v1/live",
                "/v1/cameras", "/v1/cameras/{name}"} <= set(schema["paths"])
        assert "bearer" in str(schema["components"]["securitySchemes"]).lower()
        assert "swagger" in client.get("/docs").text.lower()
        metrics = client.get("/metrics")
        assert metrics.status_code == 200 and "ferstream_worker_frames_total" in metrics.text
        from tests.helpers import check_exposition, metric

        samples = check_exposition(metrics.text)  # as strictly as Prometheus reads it
        assert metric(samples, "ferstream_api_requests_total", route="/openapi.json", method="GET", status="200") >= 1
        assert metric(samples, "ferstream_api_requests_total", route="/v1/sources/{source_id}", method="GET",
                      status="401") >= 1  # by route template, never the raw path
        ready = client.get("/readyz").json()
        assert ready["checks"] == {"database": "ok", "migrations": "ok"}


#: the docs' pages and the files they load, none from another host
DOCS = {"/docs": ("swagger-ui-bundle.js", "swagger-ui.css"), "/redoc": ("redoc.standalone.js",)}


def test_the_docs_load_without_a_key_and_from_this_server_only(api):
    import re

    with api.client(None) as stranger:  # keys exist: the data needs one, the docs do not
        schema = stranger.get("/openapi.json")
        assert schema.status_code == 200 and "/v1/sources" in schema.json()["paths"]
        for page, assets in DOCS.items():
            response = stranger.get(page)
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/html"), page
            links = re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.text) + re.findall(r"url: *'([^']+)'",
                                                                                                response.text)
            assert links and all(link.startswith("/") for link in links), links  # nothing from a CDN
            assert "cdn.jsdelivr" not in response.text and "fonts.googleapis" not in response.text
            for name in assets:
                asset = stranger.get(f"/docs/assets/{name}")
                assert asset.status_code == 200 and len(asset.content) > 50_000, name
                assert f"/docs/assets/{name}" in links
        assert stranger.get("/docs/assets/favicon.png").headers["content-type"] == "image/png"
        problem_of(stranger.get("/docs/assets/../../etc/passwd"), 404)
        problem_of(stranger.get("/v1/sources"), 401)  # the data still needs a key


def test_private_docs_need_a_key(serve, tmp_path):
    url = f"sqlite:///{tmp_path / 'private.db'}"
    key = make_key(url, "docs reader")
    server = serve(url, "--private-docs")
    with server.client(None) as stranger:
        for path in ("/docs", "/redoc", "/openapi.json"):
            problem_of(stranger.get(path), 401)
    with server.client(key) as client:
        assert client.get("/openapi.json").status_code == 200 and client.get("/docs").status_code == 200


def test_cors_is_off_unless_origins_are_named(api, serve, tmp_path):
    origin = {"Origin": "https://app.example.com"}
    with api.client() as client:
        assert "access-control-allow-origin" not in client.get("/v1/sources", headers=origin).headers
    url = f"sqlite:///{tmp_path / 'cors.db'}"
    key = make_key(url, "web")
    server = serve(url, "--cors-origin", "https://app.example.com")
    with server.client(key) as client:
        response = client.get("/v1/sources", headers=origin)
        assert response.headers["access-control-allow-origin"] == "https://app.example.com"
        other = client.get("/v1/sources", headers={"Origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in other.headers
