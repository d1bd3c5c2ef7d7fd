"""N_: a message marked for the translation catalog where it is defined, translated where it
is shown (bot/render/i18n.py). The kernel's, so that any layer can mark its messages."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark now, translate later"
    """The message unchanged: Babel's extractor finds it by this name."""
    return message
