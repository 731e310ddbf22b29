"""Exceptions with a message a user can act on."""


class DeepscreenError(Exception):
    """Base class for every error Deepscreen raises on purpose."""


class MediaError(DeepscreenError):
    """The item cannot be screened: unknown type, broken file or a limit exceeded.

    ``code`` is a stable machine-readable reason (``unsupported-type``, ``too-large``,
    ``decode-failed``, ...); the message is for people.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ConfigError(DeepscreenError):
    """A configuration file or option is not valid (a usage error: exit status 2)."""


class PolicyError(DeepscreenError):
    """The policy file is not valid."""


class BankError(DeepscreenError):
    """A hash bank operation failed (unknown bank, bad hash value, bad import file)."""
