"""One error hierarchy for the whole project.

Every error a user can cause (bad input, an unreachable service) is a
``FerstreamError``; the CLI prints its message and exits non-zero without a
traceback.
"""


class FerstreamError(Exception):
    """Base of every error ferstream raises on purpose."""


class DataError(FerstreamError):
    """A training or evaluation data set is missing or malformed."""


class ModelError(FerstreamError):
    """An emotion-model file is missing, unreadable or breaks the contract."""


class VideoError(FerstreamError):
    """A video file or stream cannot be opened or decoded."""


class ServiceError(FerstreamError):
    """Redis or the database cannot be reached."""


class FrameError(FerstreamError):
    """An image handed to the Python API is not a BGR or grey uint8 array."""


class ConfigError(FerstreamError):
    """A setting (a command-line option or an environment variable) is out of its range."""


class UrlRefused(ConfigError):
    """A URL or path the URL policy (``ferstream.urls``) refuses: a scheme, a protocol or an address not allowed
    where it was given."""
