"""Compatibility path of the original Prompt Gear: ``from promptgear.schema import PromptTemplate``."""

from .template import PromptTemplate, RenderedPrompt

__all__ = ["PromptTemplate", "RenderedPrompt"]
