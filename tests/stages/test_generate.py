"""The simulator: determinism, realism against config, and the truth/contract split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contract.errors import ConfigError
from contract.tables import table_contracts
from contract.validation import validate_tables
from pipeline import generate, validate
from simulator.calibration import target_cause_shares
from simulator.causes import STAGES
from simulator.dynamics import BlockSimulation, _one_second_apart
from tests.support import TINY, Simulated, compose_config, simulate


def _files(directory) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_same_seed_and_config_give_identical_files(tmp_path, tiny: Simulated):
    again = simulate(tmp_path, *TINY)
    for folder in ("simulated_dir", "ground_truth_dir"):
        first = _files(type(tmp_path)(getattr(tiny.cfg.paths, folder)))
        second = _files(type(tmp_path)(getattr(again.cfg.paths, folder)))
        assert first.keys() == second.keys()
        assert first == second, folder


def test_another_seed_gives_other_data(tmp_path, tiny: Simulated):
    other = simulate(tmp_path, *TINY, "seed=7")
    assert len(other.raw["customers"]) == len(tiny.raw["customers"])
    assert not other.raw["transactions"].equals(tiny.raw["transactions"])


def test_generated_tables_satisfy_the_contract(simulated: Simulated):
    validated = validate_tables(simulated.raw, simulated.cfg.data, simulated.cfg.validation)
    assert {name: len(frame) for name, frame in validated.items()} == {
        name: len(frame) for name, frame in simulated.raw.items()
    }


def test_one_customer_s_incidents_never_share_a_second():
    """Two purchases in the same second would log identical incident rows (a double load
    to the contract): equal times move apart, a second at a time, past any they meet."""
    customers = np.array([5, 3, 5, 5, 3, 7])
    times = np.array([10, 10, 10, 11, 11, 10])
    apart = _one_second_apart(customers, times)
    assert apart.tolist() == [10, 10, 11, 12, 11, 10]
    assert _one_second_apart(np.array([1, 2]), np.array([4, 4])).tolist() == [4, 4]


def test_latent_traits_stay_out_of_the_contract_tables(simulated: Simulated):
    contracts = table_contracts(simulated.cfg.data)
    for name, frame in simulated.raw.items():
        assert list(frame.columns) == list(contracts[name].schema.columns), name
    traits = set(simulated.truth.columns) - {"customer_id"}
    assert not traits & {column for frame in simulated.raw.values() for column in frame.columns}


def _exposure_years(sim: Simulated) -> float:
    start = pd.Timestamp(sim.cfg.simulator.start_date)
    end = start + pd.Timedelta(weeks=sim.cfg.simulator.n_weeks)
    begin = sim.raw["customers"].set_index("customer_id")["signup_date"].clip(lower=start)
    stop = sim.truth.set_index("customer_id")["churn_time"].fillna(end)
    return float(((stop - begin).dt.total_seconds() / (365.25 * 86400)).sum())


def test_half_the_churners_state_a_reason_after_leaving_a_fifth_of_them_wrongly(
    simulated: Simulated,
):
    """simulator.churn_reasons (0.5 stated, 0.2 of those misstated, within 60 days): only
    churners speak, once, after leaving; the shares hold within sampling error."""
    cfg = simulated.cfg.simulator.churn_reasons
    churners = simulated.truth[simulated.truth["churned"]]
    said = simulated.raw["churn_reasons"].merge(
        churners[["customer_id", "churn_time", "churn_cause"]],
        on="customer_id",
        how="left",
        validate="one_to_one",
    )
    assert said["churn_time"].notna().all()
    delay_days = (said["stated_at"] - said["churn_time"]) / pd.Timedelta(days=1)
    assert delay_days.between(0, cfg.delay_days_max).all()
    stated = len(said) / len(churners)  # a few fall after the simulation's end
    assert cfg.stated_share - 0.06 < stated <= cfg.stated_share + 0.03
    wrong = (said["reason"] != said["churn_cause"]).mean()
    assert abs(wrong - cfg.misstated_share) < 0.04


def test_annual_churn_matches_config(simulated: Simulated):
    rate_per_year = simulated.truth["churned"].sum() / _exposure_years(simulated)
    annual_probability = 1 - np.exp(-rate_per_year)
    assert annual_probability == pytest.approx(simulated.cfg.simulator.churn.annual_rate, abs=0.025)


def test_cause_mixture_matches_config(simulated: Simulated):
    realised = simulated.truth["churn_cause"].value_counts(normalize=True)
    for cause, share in target_cause_shares(simulated.cfg.simulator).items():
        assert realised.get(cause, 0.0) == pytest.approx(share, abs=0.03), cause
    natural = realised["natural"]
    service = realised["poor_service"] + realised["unresolved_complaint"]
    assert natural < 0.10 < 0.45 < service  # domain: natural < 10%, service-related dominates


def test_most_dissatisfied_customers_never_complain(simulated: Simulated):
    truth = simulated.truth
    assert truth["complaints_filed"].sum() == len(simulated.raw["complaints"])
    per_episode = truth["complaints_filed"].sum() / truth["dissatisfying_episodes"].sum()
    expected = simulated.cfg.simulator.complaints.probability_per_episode
    assert per_episode == pytest.approx(expected, rel=0.2)
    dissatisfied = truth[truth["dissatisfying_episodes"] > 0]
    assert (dissatisfied["complaints_filed"] == 0).mean() > 0.75
    # Visible in the contract data too: most customers hit by incidents never complain.
    hit = set(simulated.raw["service_incidents"]["customer_id"])
    complained = set(simulated.raw["complaints"]["customer_id"])
    assert len(hit - complained) / len(hit) > 0.75


def test_purchase_rate_by_lifecycle_stage_follows_config(simulated: Simulated):
    """Purchases in the two weeks after a cutoff, by the true stage at the cutoff."""
    hazards = simulated.hazards[["customer_id", "cutoff", "stage"]]
    tx = simulated.raw["transactions"][["customer_id", "timestamp"]]
    joined = hazards.merge(tx, on="customer_id")
    after = (joined["timestamp"] >= joined["cutoff"]) & (
        joined["timestamp"] < joined["cutoff"] + pd.Timedelta(weeks=2)
    )
    counts = joined[after].groupby(["customer_id", "cutoff"]).size()
    per_row = (
        hazards.set_index(["customer_id", "cutoff"])
        .assign(purchases=counts)
        .fillna({"purchases": 0})
    )
    rate = per_row.groupby("stage")["purchases"].mean()
    multiplier = simulated.cfg.simulator.lifecycle.purchase_multiplier
    for stage in STAGES:
        expected = multiplier[stage] / multiplier["maturity"]
        assert rate[stage] / rate["maturity"] == pytest.approx(expected, rel=0.25), stage
    hazard = simulated.hazards.groupby("stage")["hazard_lifecycle_decline"].mean()
    assert hazard["decline"] > 0 and hazard.drop("decline").max() == 0


def test_stage_shares_are_plausible(simulated: Simulated):
    shares = simulated.hazards["stage"].value_counts(normalize=True)
    assert shares["maturity"] > 0.5
    assert 0.03 < shares["decline"] < 0.25
    assert shares["cultivation"] < shares["growth"] < shares["maturity"]


def test_sales_concentrate_on_few_customers(simulated: Simulated):
    spend = simulated.raw["transactions"].groupby("customer_id")["amount"].sum().sort_values()[::-1]
    top_fifth = spend.iloc[: len(spend) // 5].sum() / spend.sum()
    assert 0.65 < top_fifth < 0.9  # domain: ~80% of sales from 20% of customers


def test_churn_dates_only_for_contractual_churners_and_no_events_after_churn(simulated: Simulated):
    customers = simulated.raw["customers"].merge(simulated.truth, on="customer_id")
    contractual = customers["contract_type"] != "none"
    has_date = customers["churn_date"].notna()
    assert (has_date == (contractual & customers["churned"])).all()
    dated = customers[has_date]
    assert (dated["churn_date"] == dated["churn_time"].dt.floor("D")).all()
    tx = simulated.raw["transactions"].merge(simulated.truth[["customer_id", "churn_time"]])
    assert not (tx["timestamp"] >= tx["churn_time"]).any()


def test_truth_hazards_cover_only_customers_active_at_the_cutoff(simulated: Simulated):
    rows = simulated.hazards.merge(
        simulated.raw["customers"][["customer_id", "signup_date"]]
    ).merge(simulated.truth[["customer_id", "churn_time"]])
    assert (rows["signup_date"] <= rows["cutoff"]).all()
    assert not (rows["churn_time"] <= rows["cutoff"]).any()
    causes = [c for c in rows.columns if c.startswith("hazard_") and c != "hazard_total"]
    assert np.allclose(rows[causes].sum(axis=1), rows["hazard_total"], rtol=1e-4)
    assert (rows["dominant_cause"] == rows[causes].idxmax(axis=1).str.removeprefix("hazard_")).all()


def test_cause_shares_must_name_the_modelled_causes(tmp_path):
    cfg = compose_config(tmp_path, *TINY, "+simulator.churn.cause_shares.boredom=0.1")
    with pytest.raises(ConfigError, match=r"unknown \['boredom'\]"):
        target_cause_shares(cfg.simulator)


def test_absent_optional_tables_are_not_written(tmp_path):
    sim_dir = tmp_path / "sim"
    sim_dir.mkdir()
    cfg = compose_config(sim_dir, *TINY, "data.tables.complaints=null", "data.tables.surveys=null")
    generate.run(cfg)
    written = {path.stem for path in (sim_dir / "simulated").iterdir()}
    assert written == {
        "customers",
        "transactions",
        "payments",
        "service_incidents",
        "competitor_offers",
        "churn_reasons",
    }


def test_csv_output_round_trips_through_validation(tmp_path):
    cfg = compose_config(tmp_path, *TINY, "data.format=csv")
    generate.run(cfg)
    written = sorted(path.suffix for path in (tmp_path / "simulated").iterdir())
    assert written == [".csv"] * len(cfg.data.present_tables)
    validate.run(cfg)
    validated = pd.read_parquet(tmp_path / "validated" / "complaints.parquet")
    # Validated times are microseconds: what every feature engine reads (Spark too).
    assert validated["opened_at"].dtype == "datetime64[us]"
    assert validated["resolved_at"].isna().any() and validated["resolved_at"].notna().any()


def test_failed_generate_leaves_previous_output_untouched(tmp_path, monkeypatch):
    cfg = compose_config(tmp_path, *TINY)
    generate.run(cfg)
    before = _files(tmp_path / "simulated")
    runs = 0
    second_block = cfg.simulator.churn.calibration_rounds + 2  # pilot rounds run blocks too

    def fail_on_second_block(self):
        nonlocal runs
        runs += 1
        if runs == second_block:
            raise MemoryError("simulated failure after the first block was written")
        return original_run(self)

    original_run = BlockSimulation.run
    monkeypatch.setattr(BlockSimulation, "run", fail_on_second_block)
    with pytest.raises(MemoryError, match="after the first block"):
        generate.run(compose_config(tmp_path, *TINY, "seed=99"))
    assert _files(tmp_path / "simulated") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ground_truth",
        "params.yaml",
        "simulated",
    ]


def test_defects_follow_the_category_multipliers(simulated: Simulated):
    tx = simulated.raw["transactions"]
    return_rate = tx.groupby("category")["is_return"].mean()
    multiplier = pd.Series(simulated.cfg.simulator.service.category_defect_multiplier)
    assert list(return_rate.sort_values().index) == list(multiplier.sort_values().index)


def test_defect_multipliers_must_name_every_category(tmp_path):
    cfg = compose_config(tmp_path, *TINY, "~simulator.service.category_defect_multiplier.sports")
    with pytest.raises(ConfigError, match="category_defect_multiplier must name exactly"):
        generate.run(cfg)
