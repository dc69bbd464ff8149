"""The emotion-model file contract, shared by training (writes) and the worker (reads).

A model is three files with one stem, for example ``models/ferstream-emotion``:

- ``<stem>.keras``: the Keras model (for evaluation and further training);
- ``<stem>.tflite``: the fast inference export the worker runs;
- ``<stem>.json``: metadata: label order, input shape, data hash, accuracy, version.

Input: a batch of 48x48x1 float32 grey levels in 0..255 (rescaling lives inside
the model). Output: one probability per label, in the metadata's label order.
A model may look at a batch as a whole: the shipped one (``--tta flip-unsure``) runs the mirror image of the
least sure face in each call of ``MAX_BATCH`` faces too, so a face's answer can depend on the faces beside it.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ferstream.errors import ModelError
from ferstream.native_logs import native_stderr_to_log

log = logging.getLogger(__name__)

#: FER-2013 label order (Kaggle ``emotion`` column 0..6): the default.
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: Side of the square grey face crop every model takes.
FACE_SIZE = 48
#: how a model's faces are cropped (``ModelMetadata.crop``)
CROPS = ("box", "aligned", "aligned-frontal")

#: The model the project ships, trained by ``ferstream train``.
#: Package data (``ferstream/models/``), found through importlib.resources wherever ferstream is installed.
DEFAULT_MODEL = Path(str(resources.files("ferstream") / "models" / "ferstream-emotion.tflite"))


@dataclass
class ModelMetadata:
    """What ``<stem>.json`` holds beside a model."""

    labels: list[str] = field(default_factory=lambda: list(EMOTIONS))
    input_shape: list[int] = field(default_factory=lambda: [FACE_SIZE, FACE_SIZE, 1])
    version: str = "0"
    created: str = ""
    data_sha256: str = ""
    epochs: int = 0
    accuracy: dict[str, float] = field(default_factory=dict)
    architecture: str = ""
    parameters: int = 0
    training_command: str = ""
    #: how the worker crops a face for this model: "box" (the detector's box, grown), "aligned" (``worker.align``,
    #: from the detector's keypoints, at ``zoom``; a face found without keypoints keeps the box crop) or
    #: "aligned-frontal" (aligned where the face is frontal, ``quality.frontal``; the box crop where it is turned).
    #: A model learns and is scored on faces cropped its way (``ferstream train --crop``)
    crop: str = "box"
    zoom: float = 1.0

    def __post_init__(self) -> None:
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ModelError(f"metadata labels must be distinct and at least two: {self.labels}")
        if len(self.input_shape) != 3:
            raise ModelError(f"metadata input_shape must be [height, width, channels]: {self.input_shape}")
        if self.crop not in CROPS:
            raise ModelError(f"metadata crop must be one of {', '.join(CROPS)}: {self.crop!r}")
        if not isinstance(self.zoom, (int, float)) or not 0.5 <= self.zoom <= 2.0:
            raise ModelError(f"metadata zoom must be a number from 0.5 to 2: {self.zoom!r}")

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> "ModelMetadata":
        if not path.exists():
            raise ModelError(f"{path}: model metadata file is missing")
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path}: cannot read model metadata: {exc}") from exc
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def model_paths(path: str | os.PathLike) -> dict[str, Path]:
    """The three files of the model that ``path`` (any of them, or the stem) names."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".keras", ".tflite", ".json") else p
    return {ext: stem.with_name(stem.name + "." + ext) for ext in ("keras", "tflite", "json")}


#: faces per model call: a chunk with more is classified in slices, so the model's tensors (each face's views
#: included) stay the same size however many faces a chunk holds; the shipped model's second look (the mirror
#: view) goes to the least sure face of each call
MAX_BATCH = 8


class EmotionModel:
    """The inference export loaded once and called with batches of face crops.

    Not thread-safe: one instance per process (the worker loads it once).
    """

    def __init__(self, path: str | os.PathLike = DEFAULT_MODEL, num_threads: int | None = None,
                 max_batch: int = MAX_BATCH):
        self.max_batch = max_batch
        given = Path(path)
        if given.is_dir():
            raise ModelError(f"{given}: a folder, not an emotion model: give its .tflite file (its .json beside it)")
        if given.is_file() and given.suffix not in (".tflite", ".keras", ".json"):
            raise ModelError(f"{given}: not an emotion model (a model is a .tflite file with its .json beside it, as "
                             "`ferstream train` writes them)")
        paths = model_paths(path)
        self.path = paths["tflite"]
        if not self.path.exists():
            raise ModelError(f"{self.path}: model file not found (train one with `ferstream train`)")
        self.metadata = ModelMetadata.read(paths["json"])
        self.labels = tuple(self.metadata.labels)
        self._interpreter = _make_interpreter(self.path, num_threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0
        shape = tuple(self._interpreter.get_input_details()[0]["shape"][1:])
        if shape != tuple(self.metadata.input_shape):
            raise ModelError(f"{self.path}: input shape {shape} differs from metadata {self.metadata.input_shape}")
        out = int(self._interpreter.get_output_details()[0]["shape"][-1])
        if out != len(self.labels):
            raise ModelError(f"{self.path}: {out} outputs but {len(self.labels)} labels in metadata")

    @property
    def version(self) -> str:
        return self.metadata.version

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """Probabilities (N x labels) for N grey 48x48 crops (N x 48 x 48 [x 1], 0..255)."""
        faces = np.asarray(faces, dtype=np.float32)
        if faces.ndim == 3:
            faces = faces[..., None]
        if faces.shape[1:] != tuple(self.metadata.input_shape):
            raise ModelError(f"faces must be N x {self.metadata.input_shape}, got {faces.shape}")
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        if len(faces) > self.max_batch:  # a crowded chunk: bounded tensors, the same memory for any number of faces
            return np.concatenate([self.predict(faces[i:i + self.max_batch])
                                   for i in range(0, len(faces), self.max_batch)])
        n = len(faces)
        if n != self._batch:
            self._interpreter.resize_tensor_input(self._input, [n, *faces.shape[1:]])
            self._interpreter.allocate_tensors()
            self._batch = n
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(faces))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).copy()


def available_cores() -> int:
    """CPU cores this process may run on (LiteRT's own default is one thread: half the speed on two cores)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _make_interpreter(path: Path, num_threads: int | None):
    """A TFLite interpreter: the LiteRT runtime if installed, else TensorFlow's own."""
    threads = num_threads or int(os.environ.get("FERSTREAM_MODEL_THREADS", "0")) or available_cores()
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - depends on what is installed
        import warnings

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from tensorflow.lite.python.interpreter import Interpreter
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        with native_stderr_to_log():  # LiteRT's "INFO: Created ... XNNPACK delegate" comes with the first allocation
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{path}: not a readable TFLite model: {exc}") from exc
    return interpreter
