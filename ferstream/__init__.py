"""ferstream: streaming video emotion analytics.

This package holds the contracts shared by every stage (settings, the frame
codec, result types, errors, the emotion-model file format) and the one CLI.
The stages themselves live in the top-level packages ``ingest``, ``worker``,
``db``, ``dashboard`` and ``training``.
"""

__version__ = "0.1.0"
__all__ = ["analyze", "Analyzer", "FaceResults", "__version__"]


def __getattr__(name: str):
    """The Python API (``ferstream.analyze``, ``ferstream.Analyzer``), imported on first use: ``import ferstream``
    alone stays light (the CLI imports it for its version)."""
    if name in ("analyze", "Analyzer", "FaceResults"):
        from ferstream import api

        return getattr(api, name)
    raise AttributeError(f"module 'ferstream' has no attribute {name!r}")
