"""An RTSP server for the tests: GStreamer's RTSP server serving an MJPEG AVI clip on loop.

    /usr/bin/python3 tests/rtsp_server.py CLIP.avi PORT     # rtsp://127.0.0.1:PORT/live until killed
    /usr/bin/python3 tests/rtsp_server.py --check           # exit 0 if everything it needs is installed

Run it with the system Python: it needs python3-gi and GStreamer's RTSP server
(gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-base and -good), which a
virtual environment cannot import. It imports nothing from ferstream.

The clip is decoded and JPEG-encoded once, at start-up (a few hundred
milliseconds for a few seconds of video); the JPEGs are then sent as they are
(rtpjpegpay, RFC 2435) at the clip's frame rate, from its first frame again
after its last. Nothing is encoded while serving, so it costs next to no CPU.
The clip must be in a format GStreamer decodes with the packages above: an
MJPEG AVI (the tests convert their MP4 clip, whose MPEG-4 Part 2 video would
need gstreamer1.0-libav). Each client gets a stream of its own, like a camera.
"""

from __future__ import annotations

import sys

ELEMENTS = ("filesrc", "decodebin", "avidemux", "jpegdec", "videoconvert", "jpegenc", "appsink", "appsrc", "rtpjpegpay")


def _gst():
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    return GLib, Gst, GstRtspServer


def check() -> str | None:
    """What is missing to serve RTSP, or None."""
    try:
        _, Gst, _ = _gst()
    except (ImportError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    missing = [e for e in ELEMENTS if Gst.ElementFactory.find(e) is None]
    return f"GStreamer elements missing: {', '.join(missing)}" if missing else None


def load_frames(path: str) -> tuple[list[bytes], int, int, int, int]:
    """The clip's frames as baseline 4:2:0 JPEGs (what RTP/JPEG carries), their size and frame rate."""
    _, Gst, _ = _gst()
    pipeline = Gst.parse_launch("filesrc name=src ! decodebin ! videoconvert ! video/x-raw,format=I420 "
                                "! jpegenc quality=85 ! appsink name=sink sync=false")
    pipeline.get_by_name("src").set_property("location", path)
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    frames, size, rate = [], (0, 0), (15, 1)
    try:
        while (sample := sink.emit("pull-sample")) is not None:
            caps = sample.get_caps().get_structure(0)
            size = caps.get_int("width")[1], caps.get_int("height")[1]
            ok, n, d = caps.get_fraction("framerate")
            if ok and n > 0 and d > 0:
                rate = (n, d)
            buf = sample.get_buffer()
            frames.append(buf.extract_dup(0, buf.get_size()))
        msg = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
        if msg is not None:
            raise SystemExit(f"rtsp_server: cannot read {path}: {msg.parse_error()[0].message}")
    finally:
        pipeline.set_state(Gst.State.NULL)
    if not frames:
        raise SystemExit(f"rtsp_server: no video frames in {path} (GStreamer cannot decode it?)")
    return frames, *size, *rate


def serve(path: str, port: int) -> None:
    GLib, Gst, GstRtspServer = _gst()
    frames, width, height, fps_n, fps_d = load_frames(path)
    duration = Gst.util_uint64_scale_int(Gst.SECOND, fps_d, fps_n)

    def configure(_factory, media):
        src = media.get_element().get_by_name_recurse_up("clip")
        state = {"i": 0, "base": None}

        def need_data(appsrc, _length):
            if state["base"] is None:  # running time now (0 while the media prerolls); the sink paces the rest
                clock = appsrc.get_clock()
                state["base"] = clock.get_time() - appsrc.get_base_time() if clock else 0
            i = state["i"]
            buf = Gst.Buffer.new_wrapped(frames[i % len(frames)])
            buf.pts = state["base"] + i * duration
            buf.duration = duration
            state["i"] = i + 1
            appsrc.emit("push-buffer", buf)

        src.connect("need-data", need_data)

    factory = GstRtspServer.RTSPMediaFactory()
    caps = f"image/jpeg,width={width},height={height},framerate={fps_n}/{fps_d}"
    factory.set_launch(f"( appsrc name=clip is-live=true format=time max-buffers=2 caps={caps} "
                       "! rtpjpegpay name=pay0 pt=26 )")
    factory.connect("media-configure", configure)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    server.get_mount_points().add_factory("/live", factory)
    if server.attach(None) == 0:
        raise SystemExit(f"rtsp_server: cannot listen on 127.0.0.1:{port}")
    print(f"rtsp_server: {len(frames)} frames of {width}x{height} at {fps_n}/{fps_d} fps "
          f"on rtsp://127.0.0.1:{port}/live", flush=True)
    GLib.MainLoop().run()


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        missing = check()
        if missing:
            print(missing)
            return 1
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    serve(argv[0], int(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
