"""The columns every feature table has besides the features: keys, label, definition."""

KEYS = ("customer_id", "cutoff")
LABEL = "churned"
DEFINITION = "churn_definition"
LIFECYCLE = "lifecycle_stage"
# A declared customer attribute (data.extra_customer_columns) becomes feature <prefix><name>.
DECLARED_PREFIX = "declared_"
