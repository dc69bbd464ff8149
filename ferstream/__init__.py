"""ferstream: streaming video emotion analytics.

Floors, bottom to top (``tests/test_layers.py`` checks them with import-linter):

- contracts: ``errors``, ``urls``, ``results``, ``codec``, ``tracks``,
  ``emotion_model`` (the model file format), ``settings``, ``console``;
- the stages, one subpackage each, in the order data flows: ``ingest``
  (video in, chunks queued), ``worker`` (detection, tracks, emotions),
  ``events``, ``db`` (the results), ``dashboard``, and ``training`` (the model);
- what several entry points share: ``sinks`` (where chunks go), ``annotate``
  (results drawn on frames), ``demo`` (the astronaut clip);
- the entry points on top: the Python API (``api``), the HTTP API
  (``api_server``), and the command line (``cli``, a module per family of
  commands).

The shipped model (``ferstream/models/``), the migrations and the dashboard
script are package data, found through ``importlib.resources``.
"""

__version__ = "0.1.0"
__all__ = ["analyze", "summarize", "Analyzer", "FaceResults", "__version__"]


def __getattr__(name: str):
    """The Python API (``ferstream.analyze``, ``ferstream.summarize``, ``ferstream.Analyzer``), imported on first
    use: ``import ferstream`` alone stays light (the CLI imports it for its version)."""
    if name in ("analyze", "summarize", "Analyzer", "FaceResults"):
        from ferstream import api

        return getattr(api, name)
    raise AttributeError(f"module 'ferstream' has no attribute {name!r}")
