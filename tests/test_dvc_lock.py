"""Stale entries of dvc.lock (medaug.dvc_lock): the repository's lock file and the pruning."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from medaug import dvc_lock

ROOT = Path(__file__).resolve().parents[1]

LOCK = textwrap.dedent("""\
    schema: '2.0'
    stages:
      split:
        cmd: python -m pipelines.split
        deps:
        - path: medaug/split.py
          hash: md5
          md5: 0123
          size: 10
      train_vae@CN:
        cmd: python -m pipelines.train_vae --label CN
        outs:
        - path: data/models/CN
          hash: md5
          md5: 4567.dir
      train_classifier@real-7:
        cmd: python -m pipelines.train_classifier --trainset real --run 7
        params:
          params.yaml:
            classify.seed: 1
      'evaluate':
        cmd: python -m pipelines.evaluate
    """)


def test_the_committed_lock_names_only_stages_of_the_pipeline():
    stale = dvc_lock.stale_stages((ROOT / "dvc.lock").read_text(), dvc_lock.live_stages(ROOT))
    assert stale == [], f"dvc.lock has entries of removed stages (fix: python -m medaug.dvc_lock --prune): {stale}"


def test_blocks_cover_the_file_and_carry_the_stage_names():
    head, blocks = dvc_lock.stage_blocks(LOCK)
    assert head == "schema: '2.0'\nstages:\n"
    assert [name for name, _ in blocks] == ["split", "train_vae@CN", "train_classifier@real-7", "evaluate"]
    assert head + "".join(block for _, block in blocks) == LOCK


def test_pruning_removes_only_the_stale_entries_and_keeps_the_others_byte_for_byte():
    live = ["split", "train_vae@CN", "evaluate", "train_vae@AD"]
    assert dvc_lock.stale_stages(LOCK, live) == ["train_classifier@real-7"]
    text = dvc_lock.pruned(LOCK, live)
    assert "real-7" not in text and "classify.seed" not in text
    _, kept = dvc_lock.stage_blocks(text)
    assert dict(kept) == {name: block for name, block in dvc_lock.stage_blocks(LOCK)[1] if name != "train_classifier@real-7"}
    assert set(yaml.safe_load(text)["stages"]) == {"split", "train_vae@CN", "evaluate"}
    assert dvc_lock.pruned(text, live) == text


def test_a_file_that_is_not_a_lock_is_refused():
    with pytest.raises(ValueError, match="stages"):
        dvc_lock.stage_blocks("schema: '2.0'\n")
    with pytest.raises(ValueError, match="top-level"):
        dvc_lock.stage_blocks(LOCK + "other: 1\n")


def test_command_line_checks_then_prunes(tmp_path, capsys):
    (tmp_path / "dvc.yaml").write_text(textwrap.dedent("""\
        stages:
          split:
            cmd: python -m pipelines.split
          train_vae:
            foreach: ${train_vae.labels}
            do:
              cmd: python -m pipelines.train_vae --label ${item}
          evaluate:
            cmd: python -m pipelines.evaluate
        """))
    (tmp_path / "params.yaml").write_text("train_vae:\n  labels: [CN, AD]\n")
    (tmp_path / "dvc.lock").write_text(LOCK)
    assert dvc_lock.main(["--check", "--root", str(tmp_path)]) == 1
    assert "stale entry: train_classifier@real-7" in capsys.readouterr().out
    assert dvc_lock.main(["--prune", "--root", str(tmp_path)]) == 0
    assert dvc_lock.main(["--check", "--root", str(tmp_path)]) == 0
    assert set(yaml.safe_load((tmp_path / "dvc.lock").read_text())["stages"]) == {"split", "train_vae@CN", "evaluate"}
    assert not (tmp_path / "dvc.lock.tmp").exists()
