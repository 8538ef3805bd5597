"""Atomic writes: all or nothing, ordinary permissions."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from medaug.io import atomic_directory, atomic_path, write_json, write_tsv


def test_atomic_path_renames_on_success_and_cleans_up_on_error(tmp_path):
    target = tmp_path / "sub" / "table.tsv"
    write_tsv(pd.DataFrame({"a": [1, None]}), target)
    assert target.read_text() == "a\n1.0\nn/a\n"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "a\n1.0\nn/a\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.tsv"]


def test_atomic_directory_replaces_whole_tree_or_nothing(tmp_path):
    root = tmp_path / "out"
    with atomic_directory(root) as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with atomic_directory(root) as tmp:
            (tmp / "b.txt").write_text("second")
            raise RuntimeError("killed")
    assert [p.name for p in root.iterdir()] == ["a.txt"]
    with atomic_directory(root) as tmp:
        (tmp / "b.txt").write_text("second")
    assert [p.name for p in root.iterdir()] == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_outputs_get_umask_permissions_not_private_ones(tmp_path):
    old = os.umask(0o022)
    try:
        write_json({"b": 1, "a": 2}, tmp_path / "m.json")
        with atomic_directory(tmp_path / "tree") as tmp:
            (tmp / "x").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "tree").stat().st_mode) == 0o755
    assert (tmp_path / "m.json").read_text() == '{\n  "a": 2,\n  "b": 1\n}\n'


def test_write_figure_writes_a_png_closes_the_figure_and_leaves_nothing_on_error(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from medaug.io import write_figure

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [1, 0])
    write_figure(fig, tmp_path / "sub" / "curve.png", dpi=50)
    assert (tmp_path / "sub" / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)

    broken, ax = plt.subplots()
    ax.set_title("$\\undefinedcommand$")  # mathtext fails at draw time
    with pytest.raises(ValueError):
        write_figure(broken, tmp_path / "broken.png")
    assert not plt.fignum_exists(broken.number)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]
