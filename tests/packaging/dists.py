"""The wheel and the sdist as a release builds them: from the files git tracks, offline.

The files are copied to a scratch directory first, so that nothing git ignores (caches,
``media/``, a stray ``build/``) can slip into the archives and hide a missing pattern,
and the checkout stays clean. ``python -m build`` makes the sdist, then the wheel from
the sdist, so the wheel also proves the sdist holds everything a build needs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "aigen_app"
BUILD_TIMEOUT = 300


@dataclass(frozen=True)
class Dists:
    wheel: Path
    sdist: Path

    def wheel_files(self) -> set[str]:
        """Every file of the wheel under ``aigen_app/``."""
        with zipfile.ZipFile(self.wheel) as archive:
            return {name for name in archive.namelist()
                    if name.startswith(f"{PACKAGE}/") and not name.endswith("/")}

    def sdist_files(self) -> set[str]:
        """Every file of the sdist under ``aigen_app/`` (its top directory stripped)."""
        with tarfile.open(self.sdist) as archive:
            names = [member.name.split("/", 1)[1] for member in archive.getmembers()
                     if member.isfile() and "/" in member.name]
        return {name for name in names if name.startswith(f"{PACKAGE}/")}

    def sdist_top_level(self) -> set[str]:
        with tarfile.open(self.sdist) as archive:
            return {member.name.split("/", 1)[1] for member in archive.getmembers()
                    if member.name.count("/") == 1}


def tracked_files(under: str = "") -> list[str]:
    """The files git tracks (under a folder), as they are in the working tree; files
    deleted but not yet committed are left out."""
    # The git on PATH: whichever one the checkout was made with.
    listing = subprocess.run(  # noqa: S603
        ["git", "ls-files", "-z", "--", *([under] if under else [])],  # noqa: S607
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return sorted(name for name in listing.split("\0") if name and (ROOT / name).is_file())


def build_dists(scratch: Path) -> Dists:
    """Build the sdist and wheel of the tracked files into ``scratch / "dist"``."""
    source = scratch / "source"
    for name in tracked_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    out = scratch / "dist"
    # --no-isolation: build with this environment's setuptools (the dev extra pins one
    # new enough) instead of downloading one into a fresh environment.
    result = subprocess.run(  # noqa: S603 - our interpreter, our checkout
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT,
    )
    if result.returncode != 0:
        raise AssertionError(f"python -m build failed:\n{result.stdout}\n{result.stderr}")
    [wheel] = out.glob("*.whl")
    [sdist] = out.glob("*.tar.gz")
    return Dists(wheel=wheel, sdist=sdist)
