"""medaug.synthetic: the synthetic-cohort format, written block by block and read back."""

import numpy as np
import pandas as pd
import pytest

from medaug.synthetic import (
    SAMPLES_STACK,
    SAMPLES_TABLE,
    SyntheticCohortError,
    SyntheticStackWriter,
    read_synthetic,
    synthetic_participant_id,
    synthetic_table,
)

SHAPE = (3, 4, 2)


def test_blocks_written_in_order_are_read_back(tmp_path):
    volumes = np.random.default_rng(0).random((5, *SHAPE), dtype=np.float32)
    ids = [synthetic_participant_id("AD", i) for i in range(5)]
    writer = SyntheticStackWriter(tmp_path, ids, SHAPE, affine=None, write_nifti=False)
    writer.write(volumes[:2])
    writer.write(volumes[2:])
    with pytest.raises(ValueError, match="more than the 5 volumes"):
        writer.write(volumes[:1])
    with pytest.raises(ValueError, match="shape"):
        writer.write(volumes[:1, :2])
    synthetic_table("AD", 5, "rhvae", "rhvae_hmc", "sha", 7, "hash", with_files=False).to_csv(
        tmp_path / SAMPLES_TABLE, sep="\t", index=False)
    stack, table = read_synthetic(tmp_path)
    np.testing.assert_array_equal(stack[table["row"].to_numpy()], volumes)
    assert table["participant_id"].tolist() == ids


def test_nifti_only_cohorts_and_bad_rows_are_named(tmp_path):
    pd.DataFrame({"participant_id": ["syn-CN-000000"], "diagnosis": ["CN"], "filename": ["a.nii.gz"]}).to_csv(
        tmp_path / SAMPLES_TABLE, sep="\t", index=False)
    stack, table = read_synthetic(tmp_path)
    assert stack is None and table["file"].tolist() == [str(tmp_path / "a.nii.gz")]
    np.save(tmp_path / SAMPLES_STACK, np.zeros((1, *SHAPE), np.float32))
    pd.DataFrame({"participant_id": ["syn-CN-000000"], "diagnosis": ["CN"], "row": [3]}).to_csv(
        tmp_path / SAMPLES_TABLE, sep="\t", index=False)
    with pytest.raises(SyntheticCohortError, match="'row' out of range"):
        read_synthetic(tmp_path)
