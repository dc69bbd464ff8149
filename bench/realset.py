"""The hand-labelled real-footage set (``bench/labels/emotions.csv``): its faces, where their files are, their frames.

The set holds faces of real photos and video frames with several people: audiences, meetings, street and group
photos, turned, tilted, dim, small, laughing and partly hidden faces. Each row is one face: where it is (source,
file, frame, and its box as ferstream's default detector framed it), who it is (``person``, unique across the set),
the emotion read by eye (``emotion``), the labels that count as right where the face is ambiguous (``accept``,
``|``-separated, ``emotion`` among them), how it is hard (``tags``), and its part of the set (``split``): ``judge``
faces judge models, ``tune`` faces (other sources, other people) may be used to fine-tune one; a model is never
trained on the judging part. Sources and licences: bench/labels/SOURCES.md.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data import LABELS as LABELS_FOLDER, REPO, is_photo, read_frame

LABELS = LABELS_FOLDER / "emotions.csv"
#: where each source's files are found unless --source says otherwise: the shared footage for ``media``, and for
#: the others a folder of that name under --realset (bench/labels/SOURCES.md says where each comes from and
#: tools/realset/rebuild.py lays them out there); the first of these that exists
REALSET_ROOTS = [Path(p) for p in [os.environ.get("FERSTREAM_REALSET", "")] if p] + [
    REPO.parent / "shared" / "realset", REPO.parent / "realset_sources"]
COLUMNS = ["source", "file", "frame", "x", "y", "w", "h", "person", "emotion", "accept", "tags", "split"]
SPLITS = ("judge", "tune")


def default_realset() -> Path:
    """The first of REALSET_ROOTS that exists (the last when none does): --realset's default."""
    return next((p for p in REALSET_ROOTS if p.is_dir()), REALSET_ROOTS[-1])


@dataclass(frozen=True)
class Face:
    """One labelled face of the set."""

    source: str
    file: str
    frame: int
    box: tuple[int, int, int, int]
    person: str
    emotion: str
    accept: frozenset[str]
    tags: frozenset[str]
    split: str

    @property
    def kind(self) -> str:
        """``video`` or ``photo``: what the face was read from."""
        return "video" if Path(self.file).suffix.lower() in (".mp4", ".mov", ".avi", ".mkv", ".webm") else "photo"


def read_labels(path: Path = LABELS) -> list[Face]:
    """The labelled faces; ``ValueError`` naming the line for a row that breaks the format."""
    from ferstream.emotion_model import EMOTIONS

    faces = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != COLUMNS:
            raise ValueError(f"{path}: columns must be {','.join(COLUMNS)}, got {','.join(reader.fieldnames or [])}")
        for line, row in enumerate(reader, start=2):
            accept = frozenset(filter(None, row["accept"].split("|"))) | {row["emotion"]}
            unknown = sorted(accept - set(EMOTIONS))
            if unknown:
                raise ValueError(f"{path}:{line}: unknown emotion(s) {', '.join(unknown)}")
            if row["split"] not in SPLITS:
                raise ValueError(f"{path}:{line}: split must be one of {', '.join(SPLITS)}, got {row['split']!r}")
            box = tuple(int(row[k]) for k in ("x", "y", "w", "h"))
            if min(box[2:]) <= 0 or min(box[:2]) < 0:
                raise ValueError(f"{path}:{line}: box {box} is not a box")
            faces.append(Face(row["source"], row["file"], int(row["frame"]), box, row["person"], row["emotion"],
                              accept, frozenset(filter(None, row["tags"].split("|"))), row["split"]))
    return faces


def source_folders(faces: list[Face], realset: Path, media: Path, given: dict[str, str] | None = None) -> dict[str, Path]:
    """Each source's folder: ``realset/NAME``, the shared footage for ``media``, or where ``given`` says."""
    folders = {f.source: realset / f.source for f in faces}
    folders.update({"media": media, **{k: Path(v) for k, v in (given or {}).items()}})
    return folders


def photo_faces(realset: Path, media: Path, path: Path = LABELS) -> dict[Path, list[np.ndarray]]:
    """The labelled boxes (x, y, w, h) of each still photo of the set, by the photo's path (which may not exist)."""
    faces: dict[Path, list[np.ndarray]] = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            photo = (media if r["source"] == "media" else realset / r["source"]) / r["file"]
            if is_photo(photo):
                faces.setdefault(photo, []).append(np.array([int(r[k]) for k in "xywh"], float))
    return faces


class Frames:
    """The frames of the set, read once each."""

    def __init__(self, sources: dict[str, Path]):
        self.sources = sources
        self._cache: dict[tuple[str, str, int], np.ndarray] = {}

    def available(self, face: Face) -> bool:
        folder = self.sources.get(face.source)
        return folder is not None and (folder / face.file).exists()

    def __call__(self, face: Face) -> np.ndarray:
        """The BGR frame a face was labelled on (a photo, or a video's frame read up to it)."""
        key = (face.source, face.file, face.frame)
        if key not in self._cache:
            path = self.sources[face.source] / face.file
            image = read_frame(path, face.frame)
            if image is None:
                raise FileNotFoundError(f"{path} (frame {face.frame}) cannot be read")
            self._cache[key] = image
        return self._cache[key]
