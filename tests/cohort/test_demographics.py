"""medaug.cohort.demographics: participants, sessions, clinical scores and trajectories of a demo cohort."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from medaug.cohort.config import CohortConfig
from medaug.cohort.demographics import AGE_RANGE, SessionPlan, _diagnoses, draw_participants, sessions_table


@pytest.fixture()
def config(tiny_cohort_params) -> CohortConfig:
    params = copy.deepcopy(tiny_cohort_params)
    params["cohorts"]["demo-train"]["groups"] = {"CN": 6, "AD": 6, "MCI": 2, "CN-MCI": 3, "MCI-AD": 3}
    return CohortConfig.from_dict(params)


def _draw(config, seed=0, **spec_changes):
    spec = dataclasses.replace(config.cohorts[0], **spec_changes)
    return draw_participants(spec, config, np.random.default_rng(seed))


def test_one_row_per_participant_with_bids_columns_and_the_group_counts(config):
    participants, sessions = _draw(config)
    assert list(participants.columns) == ["participant_id", "sex", "age", "site", "MMSE", "CDR", "trajectory",
                                          "severity"]
    assert participants["trajectory"].value_counts().to_dict() == {"CN": 6, "AD": 6, "MCI": 2, "CN-MCI": 3, "MCI-AD": 3}
    prefix = config.cohorts[0].id_prefix
    assert list(participants["participant_id"]) == [f"sub-{prefix}{i:04d}" for i in range(1, 21)]
    assert set(participants["site"]) <= set(config.cohorts[0].sites)
    assert participants["age"].between(*AGE_RANGE).all() and participants["sex"].isin(["M", "F"]).all()
    first = {s.participant_id: s for s in reversed(sessions)}   # each participant's first session
    assert all(first[row.participant_id].age == row.age and first[row.participant_id].mmse == row.MMSE
               for row in participants.itertuples())


def test_sessions_follow_the_trajectory_and_age_with_time(config):
    participants, sessions = _draw(config, no_followup_fraction=0.0)
    by_participant = {}
    for session in sessions:
        by_participant.setdefault(session.participant_id, []).append(session)
    trajectory = dict(zip(participants["participant_id"], participants["trajectory"]))
    for participant_id, plans in by_participant.items():
        assert [p.session_id for p in plans] == ["ses-M000", "ses-M012", "ses-M024"]
        assert [p.age - plans[0].age for p in plans] == pytest.approx([0.0, 1.0, 2.0], abs=0.11)
        assert all(0 <= p.mmse <= 30 for p in plans)
        diagnoses = [p.diagnosis for p in plans]
        kind = trajectory[participant_id]
        if "-" in kind:   # a converter changes once, at M012 or M024
            before, after = kind.split("-")
            assert diagnoses in ([before, after, after], [before, before, after])
        else:
            assert diagnoses == [kind] * 3


def test_stable_participants_without_follow_up_have_their_baseline_only(config):
    participants, sessions = _draw(config, no_followup_fraction=1.0)
    counts = pd.Series([s.participant_id for s in sessions]).value_counts()
    stable = participants["trajectory"].isin(["CN", "AD"])
    assert (counts[participants.loc[stable, "participant_id"]] == 1).all()
    assert (counts[participants.loc[~stable, "participant_id"]] == 3).all()   # converters and MCI keep theirs


def test_the_same_seed_draws_the_same_cohort(config):
    first, first_sessions = _draw(config, seed=3)
    again, again_sessions = _draw(config, seed=3)
    pd.testing.assert_frame_equal(first, again)
    assert first_sessions == again_sessions
    assert not first.equals(_draw(config, seed=4)[0])


def test_a_converter_switches_at_month_12_or_24_with_equal_odds():
    switches = [_diagnoses("CN-MCI", 3, np.random.default_rng(seed)).index("MCI") for seed in range(400)]
    assert set(switches) == {1, 2} and 0.4 < np.mean(np.array(switches) == 1) < 0.6
    assert _diagnoses("AD", 2, np.random.default_rng(0)) == ["AD", "AD"]


def test_sessions_table_lists_each_session():
    plans = [SessionPlan("sub-X0001", "ses-M000", 0, 70.0, "CN", 29, 0.0, 0.1),
             SessionPlan("sub-X0001", "ses-M012", 12, 71.0, "MCI", 27, 0.5, 0.2)]
    table = sessions_table(plans)
    assert table.to_dict("list") == {"session_id": ["ses-M000", "ses-M012"], "age": [70.0, 71.0],
                                     "diagnosis": ["CN", "MCI"], "MMSE": [29, 27], "CDR": [0.0, 0.5]}
