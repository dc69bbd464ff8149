"""ferstream: streaming video emotion analytics.

This package holds the contracts shared by every stage (settings, the frame
codec, result types, errors, the emotion-model file format) and the one CLI.
The stages themselves live in the top-level packages ``ingest``, ``worker``,
``db``, ``dashboard`` and ``training``.
"""

__version__ = "0.1.0"
