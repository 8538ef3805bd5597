"""Report tables built from stage metrics."""

import pandas as pd


def test_vae_table_shows_the_held_out_bounds_and_the_gains_over_start_and_ablation():
    from medaug.report.tables import vae_table

    curve = pd.DataFrame({"epoch": [1, 2], "train_elbo": [10.0, 12.0], "val_elbo": [9.0, 9.5]})
    info = {"model": "rhvae", "best_epoch": 2, "stop_reason": "patience", "latent_size": 50,
            "chosen_settings": {"latent_size": 50, "metric_temperature": 6.25},
            "validation_bounds": {"start": 100.0, "kept": 103.5, "networks_zeroed": 101.0}}
    row = vae_table({"CN": curve}, {"CN": info}, 1).iloc[0]
    assert row["kept - start"] == "3.5" and row["kept - networks zeroed"] == "2.5"
    assert row["latent size"] == 50 and row["metric T"] == "6.250"
    bare = vae_table({"AD": curve}, {}, 1).iloc[0]   # metrics without bounds: marked missing, not invented
    assert bare["kept - start"] == bare["validation bound: start"] != "3.5"
