"""Why a scoring run refuses to export lists."""

from contract.errors import UserError


class ScoringRefused(UserError):
    """A scoring run must not export lists: its inputs do not fit the model."""


class SchemaMismatch(ScoringRefused):
    """The features computed for scoring do not match what the model was trained on."""


class DriftRefused(ScoringRefused):
    """The scoring population differs too much from the model's training rows."""
