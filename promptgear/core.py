"""Compatibility path of the original Prompt Gear (``promptgear.core``)."""

from .errors import BackendError, PromptAlreadyExistsError, PromptGearError, PromptNotFoundError
from .store import BackendBase

__all__ = ["BackendBase", "BackendError", "PromptAlreadyExistsError", "PromptGearError", "PromptNotFoundError"]
