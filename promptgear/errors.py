"""The exception hierarchy: every error promptgear raises on purpose is a PromptGearError."""

from __future__ import annotations


class PromptGearError(Exception):
    """Root of every promptgear error. The CLI prints it as one ``Error: ...`` line."""


class PromptNotFoundError(PromptGearError, LookupError):
    """A prompt, version or label does not exist."""


class PromptAlreadyExistsError(PromptGearError):
    """A version exists already and ``overwrite`` was not given."""


class ValidationError(PromptGearError, ValueError):
    """Input breaks a rule (a name, a field, a setting). Raised before anything is written."""


class ConfigError(ValidationError):
    """A configuration setting is unknown or malformed."""


class RenderError(ValidationError):
    """Template variables are missing or unexpected."""


class IntegrityError(PromptGearError):
    """Stored data is broken (unparseable file, inconsistent metadata). Names the file."""


class LockTimeoutError(PromptGearError):
    """Another writer held a prompt's lock for longer than the configured timeout."""


class BackendUnavailableError(PromptGearError):
    """The storage backend cannot be reached (after the configured retries)."""


class ReadOnlyMirrorError(PromptGearError):
    """The database is a mirror managed by ``promptgear sync``; edit the files instead."""


# The original Prompt Gear called its root BackendError; keep the name importable.
BackendError = PromptGearError
