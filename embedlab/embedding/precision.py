"""When a set of cosines is float32 noise, not a result.

Vectors are float32, so a cosine carries an error around 1e-7 (more after layer averaging or post-processing).
A configuration whose cosines over the evaluated pairs vary by a standard deviation below ``NOISE_STD`` (1e-5,
a hundred times that error) has no ranking worth reporting: its Spearman, Pearson or ROC AUC is decided by
rounding. Measured on the STS benchmark: all-MiniLM-L6-v2's CLS vectors at layers 1-3 give cosines of
0.99998-0.99999999 for every pair (standard deviation 1.5e-6 to 2.3e-7), and their Spearman moved from 30.7
to 39.0 with the batching. CLS at layer 0 is the exact case: one fixed vector, every cosine the same.

Example:
    >>> noise_reason([0.999991, 0.999992, 0.999990])
    'undefined: every cosine is 0.99999 (spread 8e-07 < 1e-05): float32 rounding noise, the ranking means nothing'
    >>> noise_reason([0.2, 0.5, 0.9]) is None
    True
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

NOISE_STD = 1e-5
CONSTANT = "undefined: every pair scores exactly the same, so there is no ranking"


def spread(values: npt.ArrayLike) -> float:
    """Standard deviation of the finite values (0 for fewer than two)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(finite.std()) if finite.size > 1 else 0.0


def noise_reason(values: npt.ArrayLike) -> str | None:
    """Why these cosines cannot be ranked (a sentence for the user), or None when they vary enough.

    Exactly constant values (or fewer than two) get ``CONSTANT``; a spread below ``NOISE_STD`` gets the
    rounding-noise sentence with the common value and the measured spread.
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size < 2 or float(np.ptp(finite)) == 0.0:
        return CONSTANT
    deviation = float(finite.std())
    if deviation >= NOISE_STD:
        return None
    return (
        f"undefined: every cosine is {float(finite.mean()):.5f} (spread {deviation:.0e} < {NOISE_STD:.0e}): "
        "float32 rounding noise, the ranking means nothing"
    )
