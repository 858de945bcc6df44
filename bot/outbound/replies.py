"""The bot's Vietnamese replies, rendered from templates/replies/*.j2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

MAX_TEXT = 2000  # Zalo's limit for one text message


class Replies:
    """Renders reply templates; a missing variable is an error, never a blank in front of a resident."""

    def __init__(self, templates_dir: Path) -> None:
        self._env = Environment(
            loader=FileSystemLoader(templates_dir / "replies"),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=False,
        )

    def render(self, name: str, **context: Any) -> str:
        """Render one reply, trimmed to what Zalo accepts in a message."""
        text = self._env.get_template(f"{name}.j2").render(**context).strip()
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1].rstrip() + "…"
        return text
