"""Scoring rules on small frames: value, tiers, playbook, selection, drift, as-of date."""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from contract.errors import ConfigError
from models.drift import DriftCounts, population_stability_index, reference_profile
from pipeline.config import load_config
from pipeline.engine import frames_history
from scoring.config import (
    Delivery,
    NotWorthRetainingConfig,
    PairDelivery,
    PlaybookConfig,
    ScoringConfig,
)
from scoring.export import (
    Labels,
    column_dictionary,
    describe,
    for_people,
    reasons,
    win_back_list,
)
from scoring.lapsed import lapsed
from scoring.playbook import NO_CAUSE, Action, action_for, action_table
from scoring.population import scoring_date
from scoring.selection import (
    BELOW_THRESHOLD,
    LAPSED,
    NATURAL,
    NEGATIVE_NET_VALUE,
    NO_ACTION,
    OVER_BUDGET,
    choose_actions,
    rank_by_value,
    screen,
    within_budget,
)
from scoring.tiers import TIERS, not_worth_retaining, tier_thresholds, value_tiers
from scoring.value import customer_value
from tests.support import REPO, compose_config

CAUSES = ["competitor_price", "unresolved_complaint", "payment_lapse", "credit_risk", "natural"]


DEFAULTS = load_config(REPO / "params.yaml")


def _scoring(**changes) -> ScoringConfig:
    """The repository's scoring config, with ``changes``."""
    return replace(DEFAULTS.scoring, **changes)


FEATURES = ["recency_days", "discount_share_365d"]
PLAYBOOK = PlaybookConfig(
    tiers={
        "vip": Delivery("visit", "account_management", 100.0, 0.5),
        "ordinary": Delivery("e-mail", "crm", 2.0, 0.1),
    },
    content={"competitor_price": "value offer", "default": "check-in"},
    content_zh={"competitor_price": "价值优惠", "default": "回访"},
    content_needs={"competitor_price": ["discount_share_*"]},
    pairs=[
        PairDelivery(team="customer_service", cost=150.0, tier="vip", cause="unresolved_complaint")
    ],
)


# -- customer value ---------------------------------------------------------------------


@pytest.fixture
def valued(tiny):
    """Hand-made events of three customers: purchases of the first (one of them returned,
    one after the cutoff), subscription payments of the second, nothing of the third."""
    cfg = tiny.cfg
    customers = tiny.raw["customers"].head(3)
    ids = customers["customer_id"]
    tx = pd.DataFrame(
        {
            "customer_id": [ids[0]] * 4,
            "timestamp": pd.to_datetime(["2024-05-20", "2024-05-25", "2024-01-10", "2024-06-02"]),
            "amount": [100.0, 50.0, 80.0, 1000.0],
            "discount": [0.0, 20.0, 0.0, 0.0],
            "category": ["home"] * 4,
            "is_return": [False, False, True, False],
        }
    )
    payments = pd.DataFrame(
        {
            "customer_id": [ids[1], ids[1]],
            "due_date": pd.to_datetime(["2024-05-01", "2024-05-29"]),
            "paid_date": pd.to_datetime(["2024-05-02", "2024-06-03"]),
            "amount": [30.0, 30.0],
            "status": ["paid", "paid"],
        }
    )
    return frames_history(
        {"customers": customers, "transactions": tx, "payments": payments},
        cfg.features,
        cfg.data,
    )


VALUED_AT = pd.Timestamp("2024-06-01")


def test_customer_value_counts_margin_discounts_returns_and_payments(valued, tiny):
    """Hand-computed margins, only from events before the cutoff; the future projected
    from the last 30 days (run_rate)."""
    value_cfg = replace(
        tiny.cfg.scoring.value, future="run_rate", run_rate_days=30, horizon_days=360
    )
    value = customer_value(valued, VALUED_AT, value_cfg)
    m, r, s = value_cfg.gross_margin, value_cfg.return_cost, value_cfg.subscription_margin
    recent = m * 100 + (m * 70 - 20)  # two purchases in the last 30 days
    assert value.loc[0, "historical_margin"] == pytest.approx(recent - r * 80)
    assert value.loc[0, "future_value"] == pytest.approx(recent * 12)
    assert value.loc[1, "historical_margin"] == pytest.approx(s * 30)  # the June payment is later
    assert value.loc[1, "future_value"] == pytest.approx(s * 30 * 12)
    assert value.loc[2].tolist() == [3, 0.0, 0.0, 0.0]  # customer 3 bought only later
    w = value_cfg.weights
    assert value["customer_value"].tolist() == pytest.approx(
        (w.historical * value["historical_margin"] + w.future * value["future_value"]).tolist()
    )


def test_btyd_future_value_is_expected_purchases_times_margin_per_purchase(valued, tiny):
    """future: btyd. The purchases a customer still there makes (the outlook) times the
    margin to expect of one: the expected amount (the outlook's) times their margin per
    amount, here their mean margin per purchase; a customer without purchases gets
    everyone's margin per amount. Subscriptions are projected as before."""
    value_cfg = replace(tiny.cfg.scoring.value, future="btyd", run_rate_days=30, horizon_days=360)
    ids = valued.customers.to_pandas()["customer_id"]
    # Too few repeat buyers for Gamma-Gamma: each customer's mean amount, and the mean of
    # those for a customer without purchases (models/btyd.expected_spend).
    own_mean = (100.0 + 50.0 + 80.0) / 3
    outlook = pd.DataFrame(
        {"purchases_if_alive": [2.0, 0.5, 1.5], "expected_spend": own_mean},
        index=ids.to_numpy(),
    )
    with pytest.raises(ValueError, match="purchase outlook"):
        customer_value(valued, VALUED_AT, value_cfg)
    value = customer_value(valued, VALUED_AT, value_cfg, outlook)
    m, r, s = value_cfg.gross_margin, value_cfg.return_cost, value_cfg.subscription_margin
    per_purchase = (m * 100 + (m * 70 - 20) - r * 80) / 3  # three purchases, one returned
    assert value["future_value"].tolist() == pytest.approx(
        [2.0 * per_purchase, 0.5 * per_purchase + s * 30 * 12, 1.5 * per_purchase]
    )
    run_rate = customer_value(valued, VALUED_AT, replace(value_cfg, future="run_rate"))
    assert value["historical_margin"].tolist() == run_rate["historical_margin"].tolist()


# -- tiers ------------------------------------------------------------------------------


def test_not_worth_retaining_names_fraud_then_credit_risk_then_loss():
    customers = pd.DataFrame(
        {
            "customer_value": [100.0, -5.0, -5.0, 0.0, 100.0, 100.0],
            "credit_score": [700.0, 500.0, 700.0, 700.0, np.nan, 550.0],
            "declared_fraud": [1.0, 0.0, 0.0, np.nan, np.nan, 0.0],
        }
    )
    rule = NotWorthRetainingConfig(550.0, 0.0, "declared_fraud", ["credit_risk"])
    reasons = not_worth_retaining(customers, rule).tolist()
    assert reasons == ["fraud", "credit_risk", "loss_making", "loss_making", pd.NA, "credit_risk"]
    with pytest.raises(ConfigError, match="declared_missing"):
        not_worth_retaining(customers, replace(rule, fraud_flag="declared_missing"))


def test_tiers_start_at_value_quantiles_of_the_worth_retaining():
    values = pd.Series([float(v) for v in range(1, 101)])
    worth = pd.Series(values != 50)
    thresholds = tier_thresholds(
        values[worth], {"vip": 0.98, "major": 0.8, "ordinary": 0.4, "small": 0.0}
    )
    assert thresholds["vip"] == pytest.approx(np.quantile(values[worth], 0.98))
    tiers = value_tiers(values, worth, thresholds)
    assert tiers[49] == "not_worth_retaining"
    assert (tiers[values >= thresholds["vip"]] == "vip").all()
    assert tiers.value_counts()[["vip", "major", "ordinary", "small"]].tolist() == [2, 18, 39, 40]
    assert list(tiers.cat.categories) == [
        "vip",
        "major",
        "ordinary",
        "small",
        "not_worth_retaining",
    ]


# -- playbook ---------------------------------------------------------------------------


def test_playbook_pair_overrides_only_the_fields_it_names():
    action = action_for(PLAYBOOK, "vip", "unresolved_complaint", FEATURES)
    assert action == Action("check-in", "visit", "customer_service", 150.0, 0.5)


def test_playbook_falls_back_to_tier_delivery_and_default_content():
    assert action_for(PLAYBOOK, "vip", "competitor_price", FEATURES) == Action(
        "value offer", "visit", "account_management", 100.0, 0.5
    )
    assert action_for(PLAYBOOK, "ordinary", "payment_lapse", FEATURES) == Action(
        "check-in", "e-mail", "crm", 2.0, 0.1
    )
    assert action_for(PLAYBOOK, "ordinary", NO_CAUSE, FEATURES).action == "check-in"
    # No delivery: no action.
    assert action_for(PLAYBOOK, "small", "competitor_price", FEATURES) is None
    reminder = PairDelivery("reminder", "billing", 0.2, 0.35, tier="small", cause="payment_lapse")
    only_pair = replace(PLAYBOOK, pairs=[reminder])
    assert action_for(only_pair, "small", "payment_lapse", FEATURES) == Action(
        "check-in", "reminder", "billing", 0.2, 0.35
    )
    assert action_for(only_pair, "small", "competitor_price", FEATURES) is None
    incomplete = replace(PLAYBOOK, pairs=[replace(reminder, team=None)])
    with pytest.raises(ConfigError, match=r"pairs\[small, payment_lapse\]: missing \['team'\]"):
        action_table(incomplete, CAUSES, FEATURES)


def test_content_needs_its_evidence_among_the_model_features():
    assert action_for(PLAYBOOK, "vip", "competitor_price", FEATURES).action == "value offer"
    no_discounts = ["recency_days"]
    assert action_for(PLAYBOOK, "vip", "competitor_price", no_discounts).action == "check-in"
    scoring = _scoring()
    purchase_log = ["recency_days", "purchases_90d", "tenure_days"]
    table = action_table(scoring.playbook, list(DEFAULTS.causes), purchase_log)
    actions = table.set_index(["tier", "cause"])["action"]
    default = scoring.playbook.content["default"]
    assert actions[("major", "low_switching_cost")] == default  # who has auto-pay? unknown
    assert actions[("major", "lifecycle_decline")] == default  # no categories to talk about
    assert actions[("major", "unresolved_complaint")].startswith("complaint resolution")


def test_action_table_has_every_pair_with_an_action_and_checks_the_playbook():
    table = action_table(PLAYBOOK, CAUSES, FEATURES)
    assert set(table["tier"]) == {"vip", "ordinary"}
    assert len(table) == 2 * (len(CAUSES) + 1)
    unknown = replace(PLAYBOOK, content={**PLAYBOOK.content, "pricing": "x"})
    with pytest.raises(ConfigError, match=r"\['pricing'\] are not causes"):
        action_table(unknown, CAUSES, FEATURES)
    incomplete = replace(PLAYBOOK, tiers={"vip": Delivery("visit", None, 1.0, 0.5)})
    with pytest.raises(ConfigError, match=r"tiers.vip: missing \['team'\]"):
        action_table(incomplete, CAUSES, FEATURES)
    bad_rate = replace(PLAYBOOK, pairs=[PairDelivery(save_rate=1.5, tier="vip", cause="natural")])
    with pytest.raises(ConfigError, match="save_rate must be in"):
        action_table(bad_rate, CAUSES, FEATURES)


def test_default_playbook_encodes_the_domain():
    scoring = _scoring()
    causes = list(DEFAULTS.causes)
    features = ["loyalty_tier_rank", "autopay", "categories_365d"]
    table = action_table(scoring.playbook, causes, features).set_index(["tier", "cause"])
    assert table.loc[("vip", "competitor_price"), "team"] == "account_management"
    assert table.loc[("ordinary", "payment_lapse"), "action"].startswith("payment reminder")
    assert table.loc[("major", "low_switching_cost"), "action"].startswith("loyalty-programme")
    assert table.loc[("vip", "unresolved_complaint"), "action"].startswith("complaint resolution")
    costs = table.xs("competitor_price", level="cause")["action_cost"]
    assert costs["vip"] > costs["major"] > costs["ordinary"]
    assert "small" not in set(table.index.get_level_values("tier"))  # basically given up


# -- selection --------------------------------------------------------------------------


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5, 6, 7, 8],
            "churn_probability": [0.9, 0.9, 0.05, 0.5, 0.6, 0.6, 0.3, 0.3],
            "customer_value": [5000.0, -10.0, 800.0, 900.0, 700.0, 600.0, 10.0, 500.0],
            "credit_score": [800.0, 800.0, 800.0, 800.0, 800.0, 800.0, 800.0, 400.0],
            # BG/NBD P(alive): NaN for contractual customers; customer 6 has most likely left.
            "p_alive": [0.9, np.nan, 0.8, 0.95, 0.9, 0.2, np.nan, 0.1],
        }
    )


def test_screen_excludes_everyone_who_cannot_reach_a_list_before_explaining():
    nudge = PairDelivery("e-mail", "crm", 1.0, 0.05, tier="small", cause="payment_lapse")
    playbook = replace(PLAYBOOK, pairs=[*PLAYBOOK.pairs, nudge])  # small: one pair, major: none
    scoring = _scoring(risk_threshold=0.2, playbook=playbook)
    screened, thresholds = screen(_customers(), action_table(playbook, CAUSES, FEATURES), scoring)
    assert screened["tier"].tolist() == [
        "vip", "not_worth_retaining", "ordinary", "major", "ordinary", "small", "small",
        "not_worth_retaining",
    ]  # fmt: skip
    assert screened["exclusion"].tolist() == [
        pd.NA, "not_worth_retaining", BELOW_THRESHOLD, NO_ACTION, pd.NA, LAPSED,
        NEGATIVE_NET_VALUE,  # 0.3 x 0.05 x 10 - 1 < 0 even if the cause were a payment lapse
        "not_worth_retaining",  # lapsed too, but not worth retaining comes first
    ]  # fmt: skip
    assert screened["exclusion_detail"].tolist()[1::6] == ["loss_making", "credit_risk"]
    assert thresholds["vip"] == pytest.approx(np.quantile([10, 600, 700, 800, 900, 5000], 0.98))


def _decide(causes: list[str | None], **changes) -> pd.DataFrame:
    """``choose_actions`` on screened customers with the given top risk causes."""
    scoring = _scoring(risk_threshold=0.2, playbook=PLAYBOOK, **changes)
    tiers = ["vip", "vip", "ordinary", "vip", "vip", "ordinary", "ordinary", "ordinary"]
    screened = _customers().assign(
        tier=pd.Categorical(tiers, categories=TIERS),
        exclusion=pd.Series(
            [pd.NA, "not_worth_retaining", BELOW_THRESHOLD, *[pd.NA] * 4, "not_worth_retaining"],
            dtype="string",
        ),
        exclusion_detail=pd.Series([pd.NA] * 8, dtype="string"),
        risk_cause_1=causes,
    )
    return choose_actions(screened, action_table(PLAYBOOK, CAUSES, FEATURES), scoring)


def test_cause_exclusions_actions_and_expected_net_value():
    decided = _decide(
        ["competitor_price", None, None, "natural", "credit_risk", None, "payment_lapse", None]
    )
    assert decided["exclusion"].tolist()[3:5] == [NATURAL, "not_worth_retaining"]
    assert decided.loc[4, "tier"] == "not_worth_retaining"
    assert decided.loc[4, "exclusion_detail"] == "credit_risk"
    # 0.9 x 0.5 x 5000 - 100 and 0.6 x 0.1 x 600 - 2.
    assert decided.loc[0, "expected_net_value"] == pytest.approx(2150.0)
    assert decided.loc[5, "expected_net_value"] == pytest.approx(34.0)
    assert decided.loc[5, "action"] == "check-in"
    # 0.3 x 0.1 x 10 - 2 < 0: acting costs more than it keeps.
    assert decided.loc[6, "exclusion"] == NEGATIVE_NET_VALUE
    listed = decided[decided["exclusion"].isna()]
    assert listed["customer_id"].tolist() == [1, 6]
    assert listed["list_rank"].tolist() == [1, 1]  # first of each team


def test_lists_rank_by_expected_net_value_then_customer_id():
    frame = pd.DataFrame(
        {
            "customer_id": [9, 3, 5, 4],
            "team": ["a"] * 4,
            "expected_net_value": [10.0, 30.0, 10.0, 20.0],
            "action_cost": [1.0] * 4,
        }
    )
    assert rank_by_value(frame)["customer_id"].tolist() == [3, 4, 5, 9]


def test_budget_cuts_each_teams_list_where_its_costs_exceed_it():
    ranked = pd.DataFrame(
        {
            "team": ["a", "b", "a", "a", "b", "c"],
            "action_cost": [40.0, 5.0, 40.0, 40.0, 5.0, 1e9],
        }
    )
    kept = within_budget(ranked, {"a": 100.0, "b": 5.0, "c": None})
    assert kept.tolist() == [True, True, True, False, False, True]


def test_budget_cut_is_reported_as_an_exclusion():
    decided = _decide(
        ["competitor_price", None, None, "competitor_price", "competitor_price", None, None, None],
        budgets={"account_management": 250.0},
    )
    # vip customers 1, 4 and 5 cost 100 each; the budget pays for the two most valuable.
    vip = decided[decided["team"] == "account_management"].sort_values("expected_net_value")
    assert vip["exclusion"].tolist() == [OVER_BUDGET, pd.NA, pd.NA]
    assert vip["exclusion_detail"].iloc[0] == "account_management"


# -- drift ------------------------------------------------------------------------------


def test_psi_is_zero_for_the_same_population_and_matches_the_formula():
    assert population_stability_index([0.5, 0.5], [0.5, 0.5]) == 0.0
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert population_stability_index([0.5, 0.5], [0.8, 0.2]) == pytest.approx(expected)
    rng = np.random.default_rng(0)
    train_rows = pd.DataFrame(
        {
            "x": rng.normal(size=20_000),
            "kind": pd.Series(rng.choice(["a", "b"], 20_000)).astype(object),
        }
    )
    profile = reference_profile(train_rows, bins=10)
    assert len(profile["features"]["x"]["shares"]) == 11  # ten deciles and missing
    same = _drift(profile, train_rows)
    assert same.psi().max() == pytest.approx(0.0)
    shifted = train_rows.assign(x=train_rows["x"] + 1.0, kind="c")
    psi = _drift(profile, shifted).psi()
    assert psi["x"] > 0.25 and psi["kind"] > 1  # an unseen category is its own bin


def test_the_reference_profile_counts_its_rows_as_scoring_counts_them():
    """Ties on the decile edges, missing values and a categorical column's unused
    categories: the profile's shares are what counting the same rows gives."""
    rng = np.random.default_rng(2)
    counts = rng.poisson(2.0, 10_000).astype("float32")
    rows = pd.DataFrame(
        {
            "purchases": np.where(rng.random(10_000) < 0.2, np.nan, counts),
            "empty": np.full(10_000, np.nan),
            "tier": pd.Categorical(
                rng.choice(["gold", "silver", None], 10_000), ["gold", "silver", "bronze"]
            ),
        }
    )
    profile = reference_profile(rows, bins=10)
    purchases = profile["features"]["purchases"]
    assert purchases["edges"] == sorted(set(purchases["edges"]))  # ties merged
    assert purchases["shares"][-1] == pytest.approx(rows["purchases"].isna().mean())
    assert profile["features"]["empty"] == {"edges": [], "shares": [0.0, 1.0]}
    assert profile["features"]["tier"]["categories"] == ["gold", "silver"]
    counted = _drift(profile, rows)
    for name, reference in profile["features"].items():
        assert reference["shares"] == pytest.approx(counted.bins[name] / len(rows))
    assert counted.psi().max() == pytest.approx(0.0)


def test_drift_counted_in_parts_is_the_drift_of_the_whole():
    rng = np.random.default_rng(1)
    rows = pd.DataFrame(
        {
            "x": np.where(rng.random(5_000) < 0.1, np.nan, rng.normal(size=5_000)),
            "kind": pd.Series(rng.choice(["a", "b", "z", None], 5_000)).astype(object),
        }
    )
    profile = reference_profile(rows.iloc[:2_000].assign(kind="a"), bins=10)
    whole = _drift(profile, rows)
    parts = DriftCounts(profile)
    for start in range(0, 5_000, 1_300):  # uneven parts
        parts.add(rows.iloc[start : start + 1_300])
    pd.testing.assert_series_equal(parts.psi(), whole.psi())
    assert parts.unseen_categories() == whole.unseen_categories()
    # Counted apart and merged, as Spark's partitions send them (pickled) to the driver.
    merged = DriftCounts(profile)
    for piece in (rows.iloc[:700], rows.iloc[700:4_000], rows.iloc[4_000:]):
        merged.merge(pickle.loads(pickle.dumps(_drift(profile, piece))))
    assert merged.rows == 5_000
    pd.testing.assert_series_equal(merged.psi(), whole.psi())
    assert merged.unseen_categories() == whole.unseen_categories()
    assert whole.psi()["kind"] > 1 and whole.psi()["x"] > 0
    assert list(whole.unseen_categories()) == ["kind"]


def _drift(profile: dict, rows: pd.DataFrame) -> DriftCounts:
    counts = DriftCounts(profile)
    counts.add(rows)
    return counts


def test_categories_unseen_in_training_are_named_with_their_counts():
    profile = reference_profile(
        pd.DataFrame({"x": [1.0, 2.0, 3.0], "region": ["north", "south", None]}), bins=2
    )
    scoring_rows = pd.DataFrame(
        {"x": [9.0] * 6, "region": ["north", "west", "west", "east", None, "south"]}
    )
    drift = _drift(profile, scoring_rows)
    assert drift.unseen_categories() == {"region": "'west' (2), 'east' (1)"}
    assert drift.unseen_categories(examples=1) == {"region": "'west' (2) and 1 more"}
    assert _drift(profile, scoring_rows.iloc[[0, 4, 5]]).unseen_categories() == {}


# -- the stage --------------------------------------------------------------------------


def test_as_of_after_the_data_is_refused_and_a_malformed_one_stops_the_config():
    end = pd.Timestamp("2024-11-25")
    assert scoring_date(None, end) == end
    assert scoring_date("2024-06-01", end) == pd.Timestamp("2024-06-01")
    with pytest.raises(ConfigError, match="after the end of the data"):
        scoring_date("2024-12-01", end)
    # Checked when the config is loaded, before any table is read or model loaded.
    for as_of, message in (("next week", "not a date"), ("2024-06-01T10:00", "without a time")):
        with pytest.raises(ConfigError, match=message):
            load_config(REPO / "params.yaml", [f"scoring.as_of={as_of}"])


def test_reasons_read_in_the_labels_given_with_their_points():
    customers = pd.DataFrame(
        {
            "risk_cause_1": ["poor_service", "payment_lapse"],
            "risk_points_1": [12.34, 40.0],
            "risk_cause_2": ["natural", None],
            "risk_points_2": [0.96, None],
        }
    )
    english = {"poor_service": "Poor service", "natural": "Natural", "payment_lapse": "Payment"}
    chinese = {"poor_service": "服务质量差", "natural": "自然流失", "payment_lapse": "付款中断"}
    assert reasons(customers, english, 2, "pp").tolist() == [
        "Poor service 12.3 pp; Natural 1.0 pp",
        "Payment 40.0 pp",
    ]
    assert reasons(customers, chinese, 2, "个百分点").tolist() == [
        "服务质量差 12.3 个百分点; 自然流失 1.0 个百分点",
        "付款中断 40.0 个百分点",
    ]


def test_the_column_dictionary_describes_every_column_once_with_the_tables_that_have_it():
    tables = {
        "vip__key_accounts": pd.DataFrame(columns=["customer_id", "risk_cause_1", "risk_points_1"]),
        "excluded": pd.DataFrame(columns=["customer_id", "exclusion", "risk_cause_1"]),
    }
    dictionary = column_dictionary(tables).set_index("column")
    assert dictionary.index.tolist() == [
        "customer_id",
        "risk_cause_1",
        "risk_points_1",
        "exclusion",
    ]
    assert dictionary.loc["customer_id", "in"] == "vip__key_accounts excluded"
    assert dictionary.loc["risk_points_1", "in"] == "vip__key_accounts"
    assert "ranked 1" in dictionary.loc["risk_cause_1", "meaning"]
    assert "percentage points of churn probability" in dictionary.loc["risk_points_1", "meaning"]
    with pytest.raises(KeyError, match="mystery"):
        column_dictionary({"a_list": pd.DataFrame(columns=["mystery"])})


def test_csv_for_people_escapes_cells_a_spreadsheet_would_run_as_formulas():
    frame = pd.DataFrame(
        {
            "customer_id": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "ok-1"],
            "tier": pd.Categorical(["vip", "vip", "major", "major", "small", "small"]),
            "churn_probability": [0.123456, -0.5, 0.2, 0.3, 0.4, 0.5],
        }
    )
    shown = for_people(frame)
    assert shown["customer_id"].tolist() == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "ok-1",
    ]
    assert shown["tier"].tolist() == frame["tier"].tolist()
    assert shown["churn_probability"].tolist()[:2] == [0.1235, -0.5]  # numbers stay numbers
    assert frame["customer_id"].iloc[0].startswith("=")  # the Parquet twin keeps the value


def test_lapsed_needs_a_known_p_alive_below_the_threshold():
    p_alive = pd.Series([0.1, 0.5, 0.49, np.nan])
    assert lapsed(p_alive, 0.5).tolist() == [True, False, True, False]


def test_win_back_list_keeps_the_win_back_tiers_most_valuable_first():
    lapsed_customers = pd.DataFrame(
        {
            "customer_id": [4, 1, 2, 3],
            "as_of": "2025-01-01",
            "tier": ["major", "small", "vip", "major"],
            "tier_zh": ["主要客户", "小客户", "VIP 客户", "主要客户"],
            "customer_value": [900.0, 50.0, 3000.0, 900.0],
            "p_alive": [0.2, 0.1, 0.3, 0.4],
            "churn_probability": [0.6, 0.7, 0.5, 0.6],
            "lifecycle_stage": ["decline"] * 4,
            "model_name": "lightgbm",
            "model_version": "3",
        }
    )
    win_back = win_back_list(lapsed_customers, ["vip", "major"])
    assert win_back["customer_id"].tolist() == [2, 3, 4]  # ties by customer id
    assert win_back.columns[:6].tolist() == [
        "customer_id", "as_of", "tier", "tier_zh", "customer_value", "p_alive"
    ]  # fmt: skip


def test_lapsed_config_is_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"win_back_tiers: \['gold'\] are not tiers"):
        compose_config(tmp_path, "scoring.lapsed.win_back_tiers=[vip,gold]")
    with pytest.raises(ConfigError, match=r"p_alive_below: 1\.5 is not a probability"):
        compose_config(tmp_path, "scoring.lapsed.p_alive_below=1.5")


def test_tiers_and_actions_are_described_in_chinese_too():
    cfg = load_config(REPO / "params.yaml")
    decided = pd.DataFrame(
        {
            "tier": pd.Categorical(["vip", "not_worth_retaining"]),
            "exclusion": [None, "not_worth_retaining"],
            "action": [cfg.scoring.playbook.content["poor_service"], None],
            "risk_cause_1": ["poor_service", None],
            "risk_points_1": [12.0, None],
        }
    )
    described = describe(decided, Labels.of(cfg.causes, cfg.scoring), 1, "2025-01-01", "m", "1")
    assert described["tier_zh"].tolist() == ["VIP 客户", "不值得挽留"]
    assert described.loc[0, "action_zh"] == cfg.scoring.playbook.content_zh["poor_service"]
    assert pd.isna(described.loc[1, "action_zh"]) and pd.isna(described.loc[1, "reasons"])
    label = cfg.causes["poor_service"].label_zh
    assert described.loc[0, "reasons_zh"] == f"{label} 12.0 个百分点"


def test_a_missing_or_unknown_chinese_label_stops_the_config(tmp_path):
    with pytest.raises(ConfigError, match=r"content_zh: .*missing \['default'\]"):
        compose_config(tmp_path, "~scoring.playbook.content_zh.default")
    with pytest.raises(ConfigError, match=r"tier_labels_zh: .*unknown \['gold'\]"):
        compose_config(tmp_path, "+scoring.tier_labels_zh.gold=gold")
