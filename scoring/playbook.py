"""The retention playbook: tier x top risk cause -> action (conf/scoring, ``playbook``).

The tier decides the delivery: channel, owner team, cost per customer and expected save
rate (the share of would-be churners the action keeps). The cause decides the content,
if the model has the evidence the content acts on (``content_needs``): offering auto-pay
set-up is no action when the data cannot say who has auto-pay, so without that evidence
the content is the ``default`` one. A tier x cause pair may override any part of its
tier's delivery; a pair not listed falls back to the tier's delivery, a cause without
content to the ``default`` content. A tier
without delivery gets no action except for the pairs that give a whole delivery (small
customers: a payment reminder only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from fnmatch import fnmatchcase

import pandas as pd

from contract.errors import ConfigError
from scoring.config import WORTH_RETAINING_TIERS, Delivery, PlaybookConfig

DEFAULT = "default"
NO_CAUSE = "none"  # a customer with no risk cause (every cause holds them back)
ACTION_COLUMNS = ("action", "channel", "team", "action_cost", "save_rate")


@dataclass(frozen=True)
class Action:
    action: str
    channel: str
    team: str
    action_cost: float
    save_rate: float


def action_for(
    playbook: PlaybookConfig, tier: str, cause: str, features: list[str]
) -> Action | None:
    """The action for a customer of ``tier`` whose top risk cause is ``cause``, given the
    model's ``features``; None when neither the tier nor the pair has a delivery."""
    delivery = playbook.tiers.get(tier, Delivery())
    for pair in playbook.pairs:
        if (pair.tier, pair.cause) == (tier, cause):
            changed = {f.name: getattr(pair, f.name) for f in fields(Delivery)}
            delivery = replace(delivery, **{k: v for k, v in changed.items() if v is not None})
    if delivery.team is None:
        return None
    return Action(
        action=playbook.content.get(cause, playbook.content[DEFAULT])
        if has_evidence(playbook, cause, features)
        else playbook.content[DEFAULT],
        channel=delivery.channel,
        team=delivery.team,
        action_cost=delivery.cost,
        save_rate=delivery.save_rate,
    )


def has_evidence(playbook: PlaybookConfig, cause: str, features: list[str]) -> bool:
    """Whether ``features`` include one the cause's content acts on (``content_needs``;
    a cause not listed needs nothing beyond being the top cause)."""
    patterns = playbook.content_needs.get(cause)
    return patterns is None or any(
        fnmatchcase(feature, pattern) for feature in features for pattern in patterns
    )


def action_table(playbook: PlaybookConfig, causes: list[str], features: list[str]) -> pd.DataFrame:
    """Every tier x cause pair that gets an action, one row each (tier, cause and
    ``ACTION_COLUMNS``), for a model with ``features``: what ``assign_actions`` merges on.
    Checks the playbook first."""
    check_playbook(playbook, causes)
    rows = [
        {"tier": tier, "cause": cause, **asdict(action)}
        for tier in WORTH_RETAINING_TIERS
        for cause in [*causes, NO_CAUSE]
        if (action := action_for(playbook, tier, cause, features)) is not None
    ]
    return pd.DataFrame(rows, columns=["tier", "cause", *ACTION_COLUMNS])


def check_playbook(playbook: PlaybookConfig, causes: list[str]) -> None:
    """Every delivery is sensible and complete (a pair of a tier without delivery must
    give every field); pairs and contents name causes."""
    tiers = [(f"tiers.{tier}", delivery) for tier, delivery in playbook.tiers.items()]
    pairs = [(f"pairs[{pair.tier}, {pair.cause}]", pair) for pair in playbook.pairs]
    must_be_complete = tiers + [
        (where, pair) for where, pair in pairs if pair.tier not in playbook.tiers
    ]
    for where, delivery in must_be_complete:
        missing = [f.name for f in fields(Delivery) if getattr(delivery, f.name) is None]
        if missing:
            raise ConfigError(f"scoring.playbook.{where}: missing {missing}")
    for where, delivery in tiers + pairs:
        if delivery.cost is not None and delivery.cost < 0:
            raise ConfigError(f"scoring.playbook.{where}: cost must be >= 0, got {delivery.cost}")
        if delivery.save_rate is not None and not 0 <= delivery.save_rate <= 1:
            raise ConfigError(
                f"scoring.playbook.{where}: save_rate must be in [0, 1], got {delivery.save_rate}"
            )
    named = set(playbook.content) - {DEFAULT}
    named |= {pair.cause for pair in playbook.pairs} | set(playbook.content_needs)
    unknown = sorted(named - set(causes))
    if unknown:
        raise ConfigError(f"scoring.playbook: {unknown} are not causes; use one of {causes}")


def assign_actions(customers: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """``ACTION_COLUMNS`` for each customer (tier, risk_cause_1), from ``action_table``;
    missing where the tier gets no action."""
    keys = pd.DataFrame(
        {
            "tier": customers["tier"].astype(str).to_numpy(),
            "cause": customers["risk_cause_1"].fillna(NO_CAUSE).astype(str).to_numpy(),
        }
    )
    merged = keys.merge(table, on=["tier", "cause"], how="left", validate="many_to_one")
    return merged[list(ACTION_COLUMNS)].set_axis(customers.index)
