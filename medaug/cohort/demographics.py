"""Participants and sessions of a demo cohort: demographics, clinical scores and trajectories.

Baseline demographics of CN and AD follow thesis table 1.5 (ADNI: CN age 73.3 +- 6.0, 46 % male,
MMSE 29.1 +- 1.1; AD age 74.9 +- 7.9, 56 % male, MMSE 23.1 +- 2.1); MCI values are assumptions
set in ``params.yaml``. Follow-up MMSE declines at the yearly rates below (assumed, typical of
ADNI): the label rule only reads the diagnosis, so these rates change no result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from medaug.cohort.config import BASELINE_DIAGNOSIS, SESSIONS_MONTHS, CohortConfig, CohortSpec

MMSE_DECLINE_PER_YEAR = {"CN": 0.0, "MCI": -0.7, "AD": -2.5}
AGE_RANGE = (55.0, 95.0)


@dataclass(frozen=True)
class SessionPlan:
    """One session of one participant: what the tables say and what the image must show."""

    participant_id: str
    session_id: str
    months: int
    age: float
    diagnosis: str
    mmse: int
    cdr: float
    severity: float


def _diagnoses(trajectory: str, n_sessions: int, rng: np.random.Generator) -> list[str]:
    """Per-session diagnosis of a trajectory; converters change at M012 or M024."""
    if trajectory in ("CN", "AD", "MCI"):
        return [trajectory] * n_sessions
    before, after = trajectory.split("-")
    switch = 1 if rng.random() < 0.5 else 2
    return [before if i < switch else after for i in range(n_sessions)]


def _draw_cdr(probabilities: dict[float, float], rng: np.random.Generator) -> float:
    values = sorted(probabilities)
    return float(rng.choice(values, p=[probabilities[v] for v in values]))


def draw_participants(
    spec: CohortSpec, config: CohortConfig, rng: np.random.Generator
) -> tuple[pd.DataFrame, list[SessionPlan]]:
    """Draw a cohort's participants (in random order of trajectory) and all their sessions.

    Returns:
        participants: one row per participant, BIDS ``participants.tsv`` columns.
        sessions: every session of every participant, in participant then session order.
    """
    trajectories = [t for t, n in spec.groups.items() for _ in range(n)]
    trajectories = [trajectories[i] for i in rng.permutation(len(trajectories))]
    rows, sessions = [], []
    for index, trajectory in enumerate(trajectories, start=1):
        participant_id = f"sub-{spec.id_prefix}{index:04d}"
        baseline_dx = BASELINE_DIAGNOSIS[trajectory]
        demo = config.demographics[baseline_dx]
        sex = "M" if rng.random() < demo.male_fraction else "F"
        age = float(np.clip(rng.normal(*demo.age), *AGE_RANGE))
        site = str(spec.sites[rng.integers(len(spec.sites))])
        mmse0 = float(rng.normal(*demo.mmse))
        severity0 = max(0.0, float(rng.normal(*config.severity[trajectory])))
        stable = trajectory in ("CN", "AD")
        no_followup = stable and rng.random() < spec.no_followup_fraction
        months = SESSIONS_MONTHS[:1] if no_followup else SESSIONS_MONTHS
        diagnoses = _diagnoses(trajectory, len(months), rng)
        cdr0 = _draw_cdr(demo.cdr, rng)
        for month, dx in zip(months, diagnoses):
            years = month / 12.0
            mmse = mmse0 + MMSE_DECLINE_PER_YEAR[dx] * years + (rng.normal(0, 0.7) if month else 0.0)
            cdr = cdr0 if dx == baseline_dx else _draw_cdr(config.demographics[dx].cdr, rng)
            sessions.append(
                SessionPlan(
                    participant_id=participant_id,
                    session_id=f"ses-M{month:03d}",
                    months=month,
                    age=round(age + years, 1),
                    diagnosis=dx,
                    mmse=int(np.clip(np.rint(mmse), 0, 30)),
                    cdr=cdr,
                    severity=round(severity0 + config.severity_per_year.get(trajectory, 0.0) * years, 4),
                )
            )
        baseline = sessions[-len(months)]
        rows.append(
            {
                "participant_id": participant_id,
                "sex": sex,
                "age": baseline.age,
                "site": site,
                "MMSE": baseline.mmse,
                "CDR": baseline.cdr,
                "trajectory": trajectory,
                "severity": baseline.severity,
            }
        )
    return pd.DataFrame(rows), sessions


def sessions_table(sessions: list[SessionPlan]) -> pd.DataFrame:
    """One participant's ``sessions.tsv``: session_id, age, diagnosis, MMSE, CDR."""
    return pd.DataFrame(
        {
            "session_id": [s.session_id for s in sessions],
            "age": [s.age for s in sessions],
            "diagnosis": [s.diagnosis for s in sessions],
            "MMSE": [s.mmse for s in sessions],
            "CDR": [s.cdr for s in sessions],
        }
    )
