"""Server-side paths: a user may open logdirs on the server, but only under a configured root."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where server-side paths may point (a directory); the bundled samples unless configured.
ROOT_ENV = "RLHF_TRIAGE_ROOT"
# The runs the dashboard opens on, so a newcomer sees real findings at once.
SAMPLES_ENV = "RLHF_TRIAGE_SAMPLES"


class PathNotAllowed(ValueError):
    """A server path outside the configured root, or otherwise unusable."""


def server_root() -> Path:
    """The directory server-side paths must stay inside (symlinks resolved)."""
    return Path(os.environ.get(ROOT_ENV) or REPO_ROOT / "sample_logs").expanduser().resolve()


def samples_dir() -> Path:
    """The bundled sample runs the dashboard opens on."""
    return Path(os.environ.get(SAMPLES_ENV) or REPO_ROOT / "sample_logs").expanduser()


def resolve_under_root(user_path: str, root: Path | None = None) -> Path:
    """``user_path`` (relative to the root, or absolute) as a real path inside ``root``.

    Rejects ``..`` components outright, resolves symlinks, and refuses anything whose real
    location is outside the root, or that does not exist.
    """
    root = (root or server_root()).resolve()
    text = user_path.strip()
    if not text:
        raise PathNotAllowed("enter a path")
    if "\x00" in text:
        raise PathNotAllowed("the path contains a NUL character")
    candidate = Path(text).expanduser()
    if ".." in candidate.parts:
        raise PathNotAllowed("'..' is not allowed in server paths")
    if not candidate.is_absolute():
        candidate = root / candidate
    real = candidate.resolve()
    if real != root and not real.is_relative_to(root):
        raise PathNotAllowed(f"only paths under {root} can be opened")
    if not real.exists():
        raise PathNotAllowed("no such file or directory under the server root")
    return real
