"""The URL policy (``ferstream.urls``): what a camera and a video may be, which addresses the server may fetch from;
and every way in refuses the same URLs before anything is read (issue 45: ``concat:/path`` read a local file as a
camera, ``gopher://`` and the cloud metadata address were accepted)."""

from __future__ import annotations

import ipaddress

import pytest
from sqlalchemy import func, select

from ferstream import db
from ferstream.db.models import CameraRow, Source
from ferstream.errors import UrlRefused
from ferstream.urls import check_camera_url, check_video_url, fetchable_addresses, protocol_of
from tests.helpers import ferstream

CAMERA_WORDS = "a camera is an rtsp://, rtsps://, rtmp://, http:// or https:// URL, or a device (0, /dev/video0)"
#: FFmpeg's pseudo-protocols and other schemes: never a camera, never a video
PSEUDO = ["concat:/etc/passwd|/etc/hosts", "subfile,,start,0,end,100,,:/etc/passwd", "data:video/mp4;base64,AAAA",
          "pipe:0", "crypto:/etc/passwd", "gopher://example.com/x", "ftp://example.com/a.mp4", "tcp://10.0.0.1:554",
          "udp://239.0.0.1:1234", "async:/etc/passwd", "cache:http://example.com/a.mp4", "fd:3", "tee:/tmp/x",
          "unix:/run/x.sock", "hls+file:/etc/passwd", "srt://example.com:9000"]
#: link-local and cloud metadata addresses, in the spellings name resolution accepts
METADATA = ["http://169.254.169.254/latest/meta-data/", "http://2852039166/", "http://0xa9.0xfe.0xa9.0xfe/",
            "http://169.254.43518/", "rtsp://[fe80::1]/x", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/",
            "rtsp://user:pw@169.254.1.1:554/stream"]
#: this machine and private networks, in every spelling (issue 45's list)
PRIVATE = ["http://127.0.0.1/a.mp4", "http://localhost/a.mp4", "http://2130706433/a.mp4", "http://0x7f.1/a.mp4",
           "http://127.1/a.mp4", "http://0177.0.0.1/a.mp4", "http://[::ffff:127.0.0.1]/a.mp4", "http://[::1]/a.mp4",
           "http://[::127.0.0.1]/a.mp4", "http://[64:ff9b::7f00:1]/a.mp4", "http://[2002:7f00:1::]/a.mp4",
           "http://10.1.2.3/a.mp4", "http://172.16.0.1/a.mp4", "http://192.168.1.1/a.mp4", "http://100.64.0.1/a.mp4",
           "http://169.254.169.254/a.mp4", "http://[fc00::1]/a.mp4", "http://[fe80::1]/a.mp4", "http://0.0.0.0/a.mp4",
           "http://0/a.mp4", "http://224.0.0.1/a.mp4", "https://127.0.0.1:8443/a.mp4"]


@pytest.mark.parametrize("url", PSEUDO + ["file:///dev/video0", "/etc/passwd", "relative/video.mp4", "/dev/sda", "",
                                          "   ", "rtsp:no-host", "http:///path"])
def test_a_camera_is_a_stream_url_or_a_device_nothing_else(url):
    with pytest.raises(UrlRefused) as refused:
        check_camera_url(url)
    message = str(refused.value)
    if url.startswith(("rtsp:", "http:")):
        assert "no host" in message, message
    else:
        assert CAMERA_WORDS in message, message
    if url in PSEUDO or url.startswith("file:"):
        assert f"the {protocol_of(url)}: protocol is refused" in message, message


@pytest.mark.parametrize("url", METADATA)
def test_link_local_and_metadata_addresses_are_never_cameras(url):
    with pytest.raises(UrlRefused, match="link-local or cloud metadata address"):
        check_camera_url(url)
    assert "pw" not in str(pytest.raises(UrlRefused, check_camera_url, url).value)  # masked


@pytest.mark.parametrize("url", ["0", "2", "/dev/video0", "rtsp://cam.local/stream", "rtsps://cam:322/x",
                                 "rtmp://relay/live/key", "http://192.168.1.20/mjpeg", "https://10.0.0.5/live.m3u8",
                                 "rtsp://127.0.0.1:8554/live", "rtsp://[::1]:8554/live", " rtsp://cam/x "])
def test_private_and_loopback_cameras_stay_allowed(url):
    assert check_camera_url(url) == url.strip()


def test_a_camera_name_is_looked_up_as_it_is_opened():
    assert check_camera_url("rtsp://localhost:8554/x", resolve=True) == "rtsp://localhost:8554/x"
    assert check_camera_url("rtsp://no-such-host.invalid/x", resolve=True)  # left to FFmpeg to report


@pytest.mark.parametrize("url", PSEUDO + ["rtsp://cam/x"])
def test_a_video_is_http_or_https_or_a_local_file_where_allowed(url):
    with pytest.raises(UrlRefused) as refused:
        check_video_url(url, local_files=True)
    message = str(refused.value)
    assert ("a video is an http:// or https:// URL, a file:// URL or a path of this machine" in message
            or "is a live stream, not a video file" in message), message


def test_local_files_only_where_allowed():
    assert check_video_url("https://example.com/a.mp4", local_files=False) == "https://example.com/a.mp4"
    assert check_video_url("file:///videos/a%20b.mp4", local_files=True) == "/videos/a b.mp4"
    assert check_video_url("/videos/a.mp4", local_files=True) == "/videos/a.mp4"
    for local in ("file:///videos/a.mp4", "/videos/a.mp4", "a.mp4"):
        with pytest.raises(UrlRefused, match=r"local files \(file:// URLs and paths\) are refused here"):
            check_video_url(local, local_files=False)
    with pytest.raises(UrlRefused, match="an empty URL: a video is"):
        check_video_url(" ", local_files=True)
    with pytest.raises(UrlRefused, match="names a file of this machine"):
        check_video_url("file://otherhost/a.mp4", local_files=True)


@pytest.mark.parametrize("url", PRIVATE)
def test_the_server_fetches_from_public_addresses_only(url):
    with pytest.raises(UrlRefused) as refused:
        fetchable_addresses(url)
    assert "public addresses only" in str(refused.value) and "--allow-url-net" in str(refused.value)


def test_allowed_networks_open_what_they_name_and_nothing_more():
    loopback = [ipaddress.ip_network("127.0.0.0/8")]
    assert fetchable_addresses("http://127.0.0.1:8000/a.mp4", loopback) == [ipaddress.ip_address("127.0.0.1")]
    assert fetchable_addresses("http://2130706433/a.mp4", loopback) == [ipaddress.ip_address("127.0.0.1")]
    assert fetchable_addresses("http://[::ffff:127.0.0.1]/a.mp4", loopback)  # the IPv4 address it carries
    with pytest.raises(UrlRefused):
        fetchable_addresses("http://10.0.0.1/a.mp4", loopback)
    assert fetchable_addresses("http://8.8.8.8/a.mp4") == [ipaddress.ip_address("8.8.8.8")]
    assert fetchable_addresses("http://[2606:4700::1111]/a.mp4")


# every way in: the CLI and the cameras file -----------------------------------------------------------------------


def test_watch_refuses_a_pseudo_protocol_before_reading_anything(astronaut_video, sqlite_url):
    for source in (f"concat:{astronaut_video}", f"subfile,,start,0,end,0,,:{astronaut_video}",
                   "http://169.254.169.254/latest", "gopher://example.com/x"):
        result = ferstream("watch", source, "--database", sqlite_url, "--duration", "1", check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "refused" in result.stderr, result.stderr
    with db.connect(sqlite_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(Source)).scalar() == 0  # nothing read, nothing recorded


def test_analyze_refuses_a_pseudo_protocol_and_reads_the_rest(astronaut_video, sqlite_url):
    result = ferstream("analyze", f"concat:{astronaut_video}", "gopher://example.com/a.mp4", str(astronaut_video),
                       "--sample-fps", "2", "--database", sqlite_url, check=False)
    assert result.returncode == 2, result.stderr
    assert "concat:" in result.stderr and "the concat: protocol is refused" in result.stderr
    assert "the gopher: protocol is refused" in result.stderr and "a live stream" not in result.stderr
    with db.connect(sqlite_url).connect() as conn:
        assert conn.execute(select(Source.name)).scalars().all() == [astronaut_video.name]  # the good one, alone


def test_cameras_add_and_a_cameras_file_refuse_them_too(astronaut_video, sqlite_url, tmp_path):
    for url in ("gopher://example.com/x", f"concat:{astronaut_video}", "http://169.254.169.254/latest"):
        result = ferstream("cameras", "add", "lobby", url, "--database", sqlite_url, check=False)
        assert result.returncode == 2 and "refused" in result.stderr, result.stderr
        config = tmp_path / "cameras.yaml"
        config.write_text(f"cameras:\n  - name: lobby\n    url: '{url}'\n")
        watched = ferstream("watch", "--config", str(config), "--database", sqlite_url, "--duration", "1",
                            check=False)
        assert watched.returncode == 2 and "camera 'lobby': url:" in watched.stderr and "refused" in watched.stderr
    with db.connect(sqlite_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(CameraRow)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(Source)).scalar() == 0
