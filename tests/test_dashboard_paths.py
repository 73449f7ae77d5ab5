"""Server-side paths stay inside the configured root, whatever the user types."""

from __future__ import annotations

import os

import pytest

from dashboard.paths import PathNotAllowed, resolve_under_root


@pytest.fixture
def root(tmp_path):
    (tmp_path / "root" / "runs").mkdir(parents=True)
    (tmp_path / "root" / "runs" / "a.csv").write_text("step,loss\n0,1\n")
    (tmp_path / "secret.txt").write_text("no")
    return tmp_path / "root"


def test_relative_path_resolves_under_the_root(root):
    assert resolve_under_root("runs/a.csv", root) == (root / "runs" / "a.csv").resolve()


def test_absolute_path_inside_the_root_is_allowed(root):
    assert resolve_under_root(str(root / "runs"), root) == (root / "runs").resolve()


@pytest.mark.parametrize("text", ["../secret.txt", "runs/../../secret.txt", "runs/.."])
def test_dotdot_is_refused(root, text):
    with pytest.raises(PathNotAllowed, match=r"'\.\.'"):
        resolve_under_root(text, root)


def test_absolute_path_outside_the_root_is_refused(root, tmp_path):
    with pytest.raises(PathNotAllowed, match="only paths under"):
        resolve_under_root(str(tmp_path / "secret.txt"), root)


def test_symlink_pointing_outside_the_root_is_refused(root, tmp_path):
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    with pytest.raises(PathNotAllowed, match="only paths under"):
        resolve_under_root("link.txt", root)


def test_missing_path_is_refused_with_a_message(root):
    with pytest.raises(PathNotAllowed, match="no such file"):
        resolve_under_root("runs/absent.csv", root)


def test_prefix_sibling_directory_is_not_inside_the_root(root, tmp_path):
    (tmp_path / "root-evil").mkdir()
    with pytest.raises(PathNotAllowed):
        resolve_under_root(str(tmp_path / "root-evil"), root)
