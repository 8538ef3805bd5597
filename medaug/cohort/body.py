"""Neck, face and shoulders below and in front of the synthetic head, for whole-head acquisitions.

Real T1 scans (ADNI, AIBL, OASIS) show the whole head, usually with the neck and often the face and
the top of the shoulders. The demo head (:mod:`medaug.cohort.atlas`) stops at a skull shell around
the brain; for the sites that set ``neck: true`` this module adds, analytically in MNI template mm
(x right, y anterior, z superior, before head scaling and pose):

- a neck: an elliptic cylinder of muscle under a bright subcutaneous fat layer, with a vertebral
  column (bright marrow), the spinal canal (dark CSF around the cord) and a dark airway;
- a face: a soft-tissue ellipsoid in front of and below the frontal lobe, with dark eyeballs in
  bright orbital fat and a dark nasal cavity;
- shoulders: the neck widens to +-180 mm at the bottom of the field of view.

Intensities are on the atlas scale (white matter = 1), as on a T1 MPRAGE: subcutaneous and orbital
fat as bright as white matter or brighter, muscle about half, bone marrow between them.

:func:`face_plane` gives the voxels a defacing tool (pydeface, quickshear) would zero: the
half-space in front of and below a plane that passes a margin in front of the brain. None of this is deformed with the subject's
anatomy: it only has to look like a neck to a registration, the brain is what is checked. The body
is only drawn where the head (brain + shell) is empty, so it never overwrites the brain.
"""

from __future__ import annotations

import numpy as np

from medaug.cohort.atlas import within_box

MUSCLE = 0.45
FAT = 1.05
MARROW = 0.70
CSF = 0.15
CORD = 0.50
AIR = 0.0
VITREOUS = 0.12
SKIN_MM = 4.0
"""Thickness (mm) of the bright subcutaneous fat layer around the neck and face."""

NECK_CENTRE_MM = (0.0, -15.0)
NECK_RADII_MM = (50.0, 55.0)
NECK_TOP_MM = -40.0
"""The neck is drawn below this template z (mm); above it the head shell closes the skull."""

SHOULDER_START_MM = -130.0
"""Below this template z (mm) the neck widens into the shoulders."""

SHOULDER_HALF_WIDTH_MM = 180.0
SHOULDER_DEPTH_MM = 70.0
SHOULDER_RAMP_MM = 40.0

FACE_CENTRE_MM = (0.0, 45.0, -55.0)
FACE_RADII_MM = (58.0, 45.0, 55.0)
EYE_CENTRES_MM = ((-32.0, 60.0, -30.0), (32.0, 60.0, -30.0))
EYE_RADIUS_MM = 11.0
ORBIT_FAT_MM = 5.0
NASAL_CENTRE_MM = (0.0, 62.0, -50.0)
NASAL_RADII_MM = (11.0, 22.0, 20.0)


def _ellipse_depth(u: np.ndarray, v: np.ndarray, ru: np.ndarray | float, rv: np.ndarray | float) -> np.ndarray:
    """Approximate depth (mm) of points inside an ellipse with radii ``ru``, ``rv`` (negative outside)."""
    rho = np.sqrt((u / ru) ** 2 + (v / rv) ** 2)
    return (1.0 - rho) * np.minimum(ru, rv)


BODY_TOP_MM = max(NECK_TOP_MM, FACE_CENTRE_MM[2] + FACE_RADII_MM[2], NASAL_CENTRE_MM[2] + NASAL_RADII_MM[2],
                  *(centre[2] + EYE_RADIUS_MM + ORBIT_FAT_MM for centre in EYE_CENTRES_MM))
"""Template z (mm) at and above which no part of the body is drawn."""


def body_intensity(points: np.ndarray) -> np.ndarray:
    """Neck, face and shoulder intensity at template-mm ``points`` (3, N) -> (N,) float32, 0 in the air."""
    points = np.asarray(points, dtype=np.float32)
    out = np.zeros(points.shape[1], dtype=np.float32)
    below = np.flatnonzero(points[2] < BODY_TOP_MM)  # only these can be in the body: evaluated alone
    out[below] = _body_intensity(np.take(points, below, axis=1))
    return out


def _body_intensity(points: np.ndarray) -> np.ndarray:
    """:func:`body_intensity` evaluated at every one of ``points`` (3, N) template mm."""
    x, y, z = (np.asarray(points, dtype=np.float32)[i] for i in range(3))
    out = np.zeros(x.shape, dtype=np.float32)

    # Neck widening into the shoulders: the x radius ramps up over SHOULDER_RAMP_MM below SHOULDER_START_MM.
    ramp = np.clip((SHOULDER_START_MM - z) / SHOULDER_RAMP_MM, 0.0, 1.0)
    rx = NECK_RADII_MM[0] + ramp * (SHOULDER_HALF_WIDTH_MM - NECK_RADII_MM[0])
    ry = NECK_RADII_MM[1] + ramp * (SHOULDER_DEPTH_MM - NECK_RADII_MM[1])
    u, v = x - NECK_CENTRE_MM[0], y - NECK_CENTRE_MM[1]
    neck_depth = _ellipse_depth(u, v, rx, ry)
    # The neck's top is rounded off under the skull so that it meets the head shell.
    neck = (neck_depth > 0) & (z < NECK_TOP_MM)
    out[neck] = np.where(neck_depth[neck] < SKIN_MM, FAT, MUSCLE)

    # Vertebral column, spinal canal and cord, airway (below the skull base only), on the column's points.
    column = np.flatnonzero(neck & (z < -60.0))
    cx, cy, cz = x[column], y[column], z[column]
    vertebra = column[(cx ** 2 + (cy + 25.0) ** 2) < 10.0 ** 2]
    canal = column[(cx ** 2 + (cy + 42.0) ** 2) < 7.0 ** 2]
    cord = column[(cx ** 2 + (cy + 42.0) ** 2) < 4.0 ** 2]
    airway = column[((cx ** 2 + (cy - 15.0) ** 2) < 8.0 ** 2) & (cz > -170.0)]
    out[vertebra] = MARROW
    out[canal] = CSF
    out[cord] = CORD
    out[airway] = AIR

    # Face: a soft-tissue ellipsoid in front of the neck, skin and orbital fat bright, eyes dark;
    # evaluated on the points of the box around the face, eyes and nose only.
    region = within_box(np.asarray(points, dtype=np.float32), *_face_region())
    x, y, z = x[region], y[region], z[region]
    fx, fy, fz = (x - FACE_CENTRE_MM[0]) / FACE_RADII_MM[0], (y - FACE_CENTRE_MM[1]) / FACE_RADII_MM[1], \
        (z - FACE_CENTRE_MM[2]) / FACE_RADII_MM[2]
    face_depth = (1.0 - np.sqrt(fx ** 2 + fy ** 2 + fz ** 2)) * min(FACE_RADII_MM)
    face = (face_depth > 0) & (y > 0.0)
    out[region[face]] = np.where(face_depth[face] < SKIN_MM, FAT, np.maximum(out[region[face]], MUSCLE))
    for centre in EYE_CENTRES_MM:
        r = np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2)
        out[region[r < EYE_RADIUS_MM + ORBIT_FAT_MM]] = FAT
        out[region[r < EYE_RADIUS_MM]] = VITREOUS
    nasal = ((x - NASAL_CENTRE_MM[0]) / NASAL_RADII_MM[0]) ** 2 + ((y - NASAL_CENTRE_MM[1]) / NASAL_RADII_MM[1]) ** 2 \
        + ((z - NASAL_CENTRE_MM[2]) / NASAL_RADII_MM[2]) ** 2 < 1.0
    out[region[nasal]] = AIR
    return out


def _face_region() -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi), each (3,) template mm: a box holding the face ellipsoid, the eyes and the nasal
    cavity, 1 mm wider than they are on every side."""
    eye = np.full(3, EYE_RADIUS_MM + ORBIT_FAT_MM)
    boxes = [(np.asarray(FACE_CENTRE_MM), np.asarray(FACE_RADII_MM)),
             (np.asarray(NASAL_CENTRE_MM), np.asarray(NASAL_RADII_MM)),
             *((np.asarray(centre), eye) for centre in EYE_CENTRES_MM)]
    lo = np.min([c - r for c, r in boxes], axis=0) - 1.0
    hi = np.max([c + r for c, r in boxes], axis=0) + 1.0
    return lo, hi


def face_plane_normal(angle_deg: float) -> np.ndarray:
    """(3,) unit normal of the defacing plane: anterior, tilted ``angle_deg`` down (template mm axes)."""
    angle = np.deg2rad(angle_deg)
    return np.array([0.0, np.cos(angle), -np.sin(angle)])


def face_plane(points: np.ndarray, brain_points: np.ndarray, angle_deg: float, margin_mm: float) -> np.ndarray:
    """Boolean (N,): which of ``points`` (3, N) template mm lie in front of / below the defacing plane.

    The plane's normal is :func:`face_plane_normal`; it passes ``margin_mm`` beyond the furthest of
    ``brain_points`` (3, M) along it, so the brain is never cut (quickshear places its plane on
    the brain mask's hull the same way, with a buffer).
    """
    normal = face_plane_normal(angle_deg).astype(np.float32)
    limit = float((normal @ np.asarray(brain_points, dtype=np.float32)).max()) + margin_mm
    return normal @ np.asarray(points, dtype=np.float32) > limit
