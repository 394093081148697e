"""Validation of prompt names, versions and labels.

Every path promptgear builds is made of names that passed :func:`validate_name`, so a
name can never escape the prompt folder.
"""

from __future__ import annotations

import re

from .errors import ValidationError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
MAX_LENGTH = 128
RESERVED = frozenset({"latest"})


def validate_name(value: object, what: str = "prompt name") -> str:
    """Return ``value`` if it is a valid name, else raise :class:`ValidationError`.

    The message says which rule was broken, so a user can fix the input at once.
    """
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, not {type(value).__name__}")
    shown = value if len(value) <= 40 else value[:40] + "..."
    if not value:
        raise ValidationError(f"{what} must not be empty")
    if "\x00" in value:
        raise ValidationError(f"invalid {what} {shown!r}: contains a NUL byte")
    if len(value) > MAX_LENGTH:
        raise ValidationError(f"invalid {what} {shown!r}: longer than {MAX_LENGTH} characters ({len(value)})")
    if "/" in value or "\\" in value:
        raise ValidationError(f"invalid {what} {shown!r}: must not contain a path separator")
    if value.startswith("."):
        raise ValidationError(f"invalid {what} {shown!r}: must not start with a dot")
    if value in RESERVED:
        raise ValidationError(f"invalid {what} {value!r}: '{value}' is reserved")
    if not NAME_PATTERN.fullmatch(value):
        raise ValidationError(
            f"invalid {what} {shown!r}: use letters, digits, '_', '-' and '.', starting with a letter or digit"
        )
    return value


def validate_version(value: object) -> str:
    return validate_name(value, "version")


def validate_label(value: object) -> str:
    return validate_name(value, "label")
