"""The genrekit error hierarchy.

Every error genrekit raises on purpose derives from :class:`GenrekitError`, so callers
(the CLI, the service, batch jobs) can catch one type, report it, and go on.
"""

from __future__ import annotations


class GenrekitError(Exception):
    """Base class of every error genrekit raises on purpose."""


class InvalidParameterError(GenrekitError, ValueError):
    """A parameter is out of its allowed range or of the wrong kind."""


class AudioError(GenrekitError):
    """Base class of the audio input errors."""


class AudioDecodeError(AudioError):
    """The content is audio but could not be decoded (corrupt, truncated or unsupported codec)."""


class UnsupportedFormatError(AudioError):
    """The content is a container or codec that genrekit cannot decode."""


class NotAudioError(AudioError):
    """The content is not audio at all (text, image, archive, ...), whatever its extension."""


class EmptyAudioError(AudioError):
    """The audio holds no samples, or only silence."""


class AudioTooLongError(AudioError):
    """The audio is longer than the configured maximum duration."""


class BundleError(GenrekitError):
    """A model bundle is missing, malformed, or does not match what the caller needs."""


class NotFittedError(GenrekitError, AttributeError):
    """A model was used before ``fit`` was called."""


class DatasetError(GenrekitError):
    """A dataset layout, manifest or split list could not be read."""
