"""What users install: the wheel and the sdist carry every file of ``aigen_app/`` in git
(templates, static files, ``py.typed``...) and the LICENSE."""

from __future__ import annotations

import zipfile

from .dists import PACKAGE, Dists, tracked_files


def test_wheel_carries_every_file_of_the_app_in_git(built_dists: Dists) -> None:
    expected = set(tracked_files(PACKAGE))
    found = built_dists.wheel_files()
    assert sorted(expected - found) == [], "in git but missing from the wheel " \
        "(add a pattern to [tool.setuptools.package-data])"
    assert sorted(found - expected) == [], "in the wheel but not in git"


def test_sdist_carries_every_file_of_the_app_in_git(built_dists: Dists) -> None:
    expected = set(tracked_files(PACKAGE))
    found = built_dists.sdist_files()
    assert sorted(expected - found) == [], "in git but missing from the sdist"
    assert sorted(found - expected) == [], "in the sdist but not in git"


def test_both_carry_the_license(built_dists: Dists) -> None:
    assert {"LICENSE", "README.md", "pyproject.toml"} <= built_dists.sdist_top_level()
    with zipfile.ZipFile(built_dists.wheel) as archive:
        licenses = [name for name in archive.namelist() if name.endswith("/LICENSE")]
        [license_file] = licenses
        assert "MIT License" in archive.read(license_file).decode()
