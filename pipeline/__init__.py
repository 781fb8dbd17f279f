"""The churn pipeline.

One module per DVC stage, plus the config loader, file I/O, the data contract and the
simulator.
"""
