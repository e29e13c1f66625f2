"""Where subject profiles live: ``<profiles>/<subject>/<name>.json`` + ``.safetensors`` (checkpoint bundles).

The newest bundle of a subject's folder is the one ``app.py --subject ID`` runs.
"""

from __future__ import annotations

from pathlib import Path

from models.bundle import resolve_manifest
from models.identifiers import UnsafeNameError, check_name
from models.manifest import BundleError

DEFAULT_PROFILES = "profiles"


class ProfileError(ValueError):
    """A subject id is malformed or has no profile."""


def check_subject(subject: str) -> str:
    """The subject id, if it is safe as a folder and file name (the shared rule of ``models.identifiers``)."""
    try:
        return check_name(subject, "subject id")
    except UnsafeNameError as exc:
        raise ProfileError(str(exc)) from None


def profile_dir(subject: str, profiles: str | Path = DEFAULT_PROFILES) -> Path:
    return Path(profiles) / check_subject(subject)


def profile_manifest(subject: str, profiles: str | Path = DEFAULT_PROFILES) -> Path:
    """The manifest of the subject's newest profile bundle; ProfileError naming the folder when there is none."""
    folder = profile_dir(subject, profiles)
    if not folder.is_dir():
        raise ProfileError(f"no profile for subject {subject}: {folder} does not exist (make one with "
                           f"'python -m calibration adapt --subject {subject} ...')")
    try:
        return resolve_manifest(folder)
    except BundleError as exc:
        raise ProfileError(f"no profile for subject {subject}: {exc}") from None
