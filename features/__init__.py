"""Point-in-time feature logic: pure functions from contract tables to feature frames."""
