"""Batch scoring's business rules: value tiers, the retention playbook, who gets listed."""


class ScoringRefused(ValueError):
    """A scoring run must not export lists: its inputs do not fit the model."""


class SchemaMismatch(ScoringRefused):
    """The features computed for scoring do not match what the model was trained on."""


class DriftRefused(ScoringRefused):
    """The scoring population differs too much from the model's training rows."""
