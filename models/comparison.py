"""Two models' churn probabilities on the same rows: which ranks churners better, by how
much, and how sure we can be (a paired bootstrap over the rows)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import bootstrap

from models.metrics import ranking_metric


@dataclass(frozen=True)
class Comparison:
    """``candidate - champion`` on ``metric``, with the one-sided lower bound of that
    difference at ``confidence`` and the share of resamples the candidate wins."""

    metric: str
    rows: int
    candidate: float
    champion: float
    difference: float
    lower_bound: float
    confidence: float
    share_better: float
    samples: int

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """Whether a candidate model version takes the alias from the champion, why, and the
    comparison behind it (None when there was nothing to compare: no champion yet)."""

    candidate: str
    champion: str | None
    promoted: bool
    reason: str
    held_out: str  # the rows both versions were scored on
    comparison: Comparison | None


def paired_bootstrap(
    y: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray,
    metric: str,
    samples: int,
    confidence: float,
    seed: int,
) -> Comparison:
    """Compare two models scored on the same rows: each resample draws rows with
    replacement and scores both models on the same draw, so what the rows have in common
    (an easy or a hard quarter) cancels out of the difference."""
    if len(np.unique(y)) < 2:
        raise ValueError("the rows hold a single class: no ranking metric can compare models")
    score = ranking_metric(metric)

    def difference(labels: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
        return score(labels, first) - score(labels, second)

    result = bootstrap(
        (y, candidate, champion),
        difference,
        paired=True,
        vectorized=False,
        n_resamples=samples,
        confidence_level=confidence,
        alternative="greater",  # the interval is [lower bound, inf)
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    differences = result.bootstrap_distribution
    return Comparison(
        metric=metric,
        rows=len(y),
        candidate=score(y, candidate),
        champion=score(y, champion),
        difference=difference(y, candidate, champion),
        lower_bound=float(result.confidence_interval.low),
        confidence=confidence,
        share_better=float(np.mean(differences > 0)),
        samples=samples,
    )
