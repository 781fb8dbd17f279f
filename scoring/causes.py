"""The churn causes behind each candidate's risk, explained in batches for the lists."""

from __future__ import annotations

import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from tqdm import tqdm

from features.columns import KEYS
from models.explain import cause_contributions, ranked_causes, shap_values, top_causes


def explain_causes(
    model: CalibratedClassifierCV,
    rows: pd.DataFrame,
    features: pd.DataFrame,
    causes_of: dict[str, str],
    n_causes: int,
    batch_rows: int,
) -> pd.DataFrame:
    """The ``n_causes`` top risk causes and their shares of each row (``risk_cause_1``,
    ``risk_share_1``, ...), explained in batches of ``batch_rows``."""
    keys = rows[list(KEYS)].reset_index(drop=True)
    features = features.reset_index(drop=True)
    parts = []
    starts = range(0, len(rows), batch_rows)
    for start in tqdm(starts, desc="explaining", unit="batch", disable=len(starts) < 2):
        window = slice(start, start + batch_rows)
        contributions = shap_values(model, features.iloc[window])
        by_cause = cause_contributions(contributions.by_feature, causes_of)
        ranked = ranked_causes(keys.iloc[window], by_cause)
        parts.append(top_causes(ranked, keys.iloc[window], n_causes))
    if not parts:
        columns = [
            f"risk_{kind}_{rank}" for rank in range(1, n_causes + 1) for kind in ("cause", "share")
        ]
        return pd.DataFrame(columns=columns)
    explained = pd.concat(parts, ignore_index=True).drop(columns=list(KEYS))
    return explained.loc[:, [c for c in explained if c.startswith("risk_")]]
