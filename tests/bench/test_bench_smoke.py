"""Smoke runs of the benchmark scripts: each runs as a user runs it, on a few frames, and prints its table.

The full benchmarks are `make bench`. fer's side runs when fer can be imported (`make bench`
and `make bench-smoke` install it); without it the scripts run with --no-fer, and
test_fer_side_installed says so in the skip list.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FER2013, REPO

#: what `from fer.fer import FER` imports beyond ferstream's own dependencies
FER_MODULES = ("fer", "tensorflow", "keras", "pkg_resources", "requests", "PIL")
MISSING = [m for m in FER_MODULES if importlib.util.find_spec(m) is None]
FER_ARGS = ["--no-fer"] if MISSING else []
#: the line of the summary table each script must print
SCRIPTS = {
    "throughput": "| throughput | frames/s at 640x360",
    "parity": "| parity | share of fer's faces ferstream finds",
    "detectors": "| detection | recall on ",
    "tracks": "| tracks | tracks per person",
    "accuracy": "| accuracy | PublicTest accuracy",
    "real_emotions": "| real emotions | faces right, hand-labelled real set (12 faces",
    "real_quality": "| uncertain faces | judging faces: right when kept / flagged uncertain",
    "scaleout": "| scale-out | 2 workers / 1 worker",
    "cost_curve": "| cost | ms per frame, 1 face(s)",
    "memory": "| memory | peak RSS MiB, ferstream analyze",
    "events": "| events | capture -> webhook p50 / p95 s, live stream",
    "api": "| HTTP API | latency added over the Python API (ferstream.analyze), concurrency 1, p50",
}

pytestmark = pytest.mark.media


def run_script(script: str, *args: str, media: Path, timeout: float = 180) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["FERSTREAM_MEDIA"] = str(media)
    result = subprocess.run([sys.executable, f"bench/{script}.py", *args, *FER_ARGS], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"bench/{script}.py exited {result.returncode}\n{result.stdout}\n{result.stderr[-5000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def tiny_fer2013(tmp_path_factory) -> Path:
    """The first rows of each split of the shared FER-2013 file, as a small Kaggle CSV."""
    if not FER2013.exists():
        pytest.skip(f"FER-2013 not found at {FER2013} (set FERSTREAM_FER2013)")
    path = tmp_path_factory.mktemp("fer2013") / "tiny.csv"
    wanted = {"Training": 4, "PublicTest": 32}
    with gzip.open(FER2013, "rt") as src, open(path, "w") as out:
        out.write(next(src))
        for line in src:
            usage = line.rstrip().rsplit(",", 1)[-1]
            if wanted.get(usage, 0) > 0:
                out.write(line)
                wanted[usage] -= 1
            if not any(wanted.values()):
                break
    return path


#: the smoke runs of the speed benches (10-20 s each) run with `make test-long`; the accuracy ones in `make test`
LONG_SCRIPTS = ("scaleout", "detectors", "throughput", "parity", "tracks", "cost_curve", "memory", "events", "api")


@pytest.mark.parametrize("script", [pytest.param(s, marks=pytest.mark.long) if s in LONG_SCRIPTS else s
                                    for s in SCRIPTS if s != "accuracy"])
def test_script_prints_its_table(script, media, tmp_path):
    args = ["--quick", "--workdir", str(tmp_path / "work")]
    if script == "parity":
        args += ["--crops", str(tmp_path / "crops")]
    out = run_script(script, *args, media=media)
    assert "| benchmark | measure | ferstream | fer | target | met |" in out
    assert SCRIPTS[script] in out, out
    if script == "parity" and not MISSING:
        assert (tmp_path / "crops").is_dir()


@pytest.mark.long  # two galleries, ferstream and fer on 4 frames each: 20-60 s
def test_gallery_prints_its_table(media, tmp_path):
    from bench.realset import REALSET_ROOTS

    realset = next((p for p in REALSET_ROOTS if p.is_dir()), None)
    if realset is None:
        pytest.skip("the real-footage set's photos are not laid out (tools/realset/rebuild.py; $FERSTREAM_REALSET)")
    out = run_script("gallery", "--quick", "--layouts", "3x3", "4x4", "--realset", str(realset),
                     "--workdir", str(tmp_path / "work"), media=media)
    row = next(line for line in out.splitlines() if line.startswith("| gallery | faces a frame, 4x4 at 1280x720 (16 faces)"))
    assert float(row.split("|")[3]) >= 14, row  # ferstream's faces a frame at default settings
    assert "| 3x3 at 1280x720 | 9 |" in out, out


def test_accuracy_prints_its_table(media, tiny_fer2013, tmp_path):
    out = run_script("accuracy", "--quick", "--data", str(tiny_fer2013), media=media)
    assert SCRIPTS["accuracy"] + " (32 faces)" in out, out
    assert ("| fer | emotion_model_quantized.tflite" in out) != bool(MISSING), out
    from ferstream.emotion_model import EmotionModel

    meta = EmotionModel().metadata  # the shipped model's faces framed as its metadata asks
    assert f"48x48, {meta.crop}{f' zoom {meta.zoom:g}' if meta.crop != 'box' else ''} crops)" in out, out


def test_accuracy_frames_the_faces_as_the_model_says(media, tiny_fer2013, tmp_path):
    from tests.training.test_align_faces import aligned_copy

    model = aligned_copy(tmp_path, 1.0, "aligned-frontal")
    out = run_script("accuracy", "--quick", "--no-fer", "--data", str(tiny_fer2013), "--model", str(model), media=media)
    assert "48x48, aligned-frontal zoom 1 crops)" in out, out


@pytest.mark.long  # every benchmark's quick run, 13 s
def test_run_all_writes_one_table(media, tmp_path):
    out_file = tmp_path / "results.md"
    out = run_script("run_all", "--quick", "--no-fer", "--only", "throughput", "memory", "--frames", "3",
                     "--workdir", str(tmp_path / "work"), "--out", str(out_file), media=media)
    written = out_file.read_text()
    for text in (out, written):
        assert text.count("| benchmark | measure | ferstream | fer | target | met |") == 1, text
        assert SCRIPTS["throughput"] in text and SCRIPTS["memory"] in text
        assert "failed" not in text
    assert "| 640x360 | 3 |" in written  # --frames reached the benchmark


def test_fer_side_installed():
    if MISSING:
        pytest.skip(f"fer's side of the benchmarks is not smoke-tested: {', '.join(MISSING)} not importable "
                    "(`make bench-smoke` installs the bench extra and fer)")
