"""The documented churn causes of ../shared/domain.md, as the simulator models them."""

CAUSES = (
    "competitor_price",
    "poor_service",
    "product_quality",
    "unresolved_complaint",
    "payment_lapse",
    "credit_risk",
    "lifecycle_decline",
    "low_switching_cost",
    "natural",
)

# Causes that are the customer's decision to leave: an annual contract holds them back
# until the renewal window. Natural churn (relocation) and the passive causes do not wait.
CONTRACT_LOCKED_CAUSES = frozenset(
    {
        "competitor_price",
        "poor_service",
        "product_quality",
        "unresolved_complaint",
        "lifecycle_decline",
        "low_switching_cost",
    }
)

STAGES = ("cultivation", "growth", "maturity", "decline")
