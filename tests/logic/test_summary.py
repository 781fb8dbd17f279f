"""The feature-table summaries the EDA notebook shows, on hand-written values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.summary import binned, churn_rate_by


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        # Integer edges over float values: pandas 3 prints these intervals as
        # "[1.0, 4.0)" but their categories as "[1, 4)"; no row may fall out.
        ([1, 4, 6, 8, 11], ["[1, 4)", "[1, 4)", "[4, 6)", "[8, 11)", "never", "never"]),
        ([1.0, 4.0, 6.0, 8.0, 11.0], ["[1, 4)", "[1, 4)", "[4, 6)", "[8, 11)", "never", "never"]),
        ([1, 4, np.inf], ["[1, 4)", "[1, 4)", "[4, inf)", "[4, inf)", "never", "[4, inf)"]),
    ],
)
def test_binned_puts_every_value_in_its_interval_and_nan_in_its_own_group(edges, expected):
    values = pd.Series([1.0, 3.9, 4.0, 10.0, np.nan, 11.0], index=list("abcdef"), name="score")

    groups = binned(values, edges, "never")

    assert groups.tolist() == expected
    assert groups.index.equals(values.index)
    assert groups.cat.ordered
    assert groups.cat.categories[-1] == "never"
    assert len(groups.cat.categories) == len(edges)  # one per interval, then missing


def test_binned_labels_the_intervals_from_the_edges():
    groups = binned(pd.Series([0.0]), [0, 0.02, 0.05, np.inf], "no spend")

    assert groups.cat.categories.tolist() == [
        "[0, 0.02)",
        "[0.02, 0.05)",
        "[0.05, inf)",
        "no spend",
    ]


def test_churn_rate_by_counts_every_labelled_row_once():
    rows = pd.DataFrame(
        {
            "churned": pd.array([True, False, False, None, True], dtype="boolean"),
            "score": [2, 5, np.nan, 9, np.nan],
        }
    )

    table = churn_rate_by(rows, binned(rows["score"], [1, 4, 6, 8, 11], "never surveyed"))

    assert table.to_dict("index") == {
        "[1, 4)": {"churn_rate": 1.0, "rows": 1},
        "[4, 6)": {"churn_rate": 0.0, "rows": 1},
        "never surveyed": {"churn_rate": 0.5, "rows": 2},
    }
