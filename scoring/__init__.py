"""Batch scoring's business rules: customer value, value tiers, the retention playbook,
who gets listed, and what a scoring run exports. No MLflow, no file I/O."""
