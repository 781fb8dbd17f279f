"""The churn pipeline's stages: the top layer.

One module per DVC stage (generate, validate, featurize, train, explain, score) plus
tune.py, each a thin ``run(cfg)`` that reads, calls the logic packages, writes and logs;
and what the stages share: the root config, file I/O, output file names and MLflow.
"""
