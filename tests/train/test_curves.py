"""medaug.train.curves: the training-curve table and figure."""

from __future__ import annotations

import pandas as pd

from medaug.train.curves import write_training_curves


def test_curve_table_leaves_out_wall_times_so_a_rerun_writes_the_same_bytes(tmp_path):
    history = [{"epoch": e, "warmup": int(e <= 2), "train_elbo": -100.0 + e, "val_elbo": -110.0 + e, "seconds": 0.1 * e}
               for e in range(1, 6)]
    write_training_curves(history, tmp_path / "a.tsv", tmp_path / "a.png", best_epoch=4)
    slower = [{**row, "seconds": 10 * row["seconds"]} for row in history]
    write_training_curves(slower, tmp_path / "b.tsv", None, best_epoch=4)
    table = pd.read_csv(tmp_path / "a.tsv", sep="\t")
    assert list(table.columns) == ["epoch", "warmup", "train_elbo", "val_elbo"]
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert history[0]["seconds"] == 0.1  # the caller's history keeps its timings


def test_curve_table_columns_do_not_depend_on_the_order_of_the_history_keys(tmp_path):
    row = {"epoch": 1, "warmup": 0, "train_elbo": -1.0, "val_elbo": -2.0, "train_kl": 3.0, "learning_rate": 1e-3,
           "train_log_prior": -4.0, "seconds": 0.5}
    write_training_curves([row], tmp_path / "fresh.tsv", None)
    write_training_curves([dict(sorted(row.items()))], tmp_path / "resumed.tsv", None)
    assert (tmp_path / "fresh.tsv").read_bytes() == (tmp_path / "resumed.tsv").read_bytes()
    assert (tmp_path / "fresh.tsv").read_text().splitlines()[0].split("\t") == [
        "epoch", "warmup", "train_elbo", "val_elbo", "learning_rate", "train_kl", "train_log_prior"]
