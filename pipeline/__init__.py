"""The churn pipeline's stages: the top layer.

One module per DVC stage (generate, validate, featurize, btyd, train, explain, score) plus
tune.py, each a thin ``run(cfg)`` that reads, calls the logic packages, writes and logs;
and what the stages share: the root config, file I/O, output file names and MLflow.
"""

import os
import warnings

# Nothing phones home, whatever the entry point (`dvc repro`, `dvc exp run`, a cron call of
# `python -m pipeline.score`, a notebook): MLflow telemetry and DVC analytics are switched
# off here, before any stage imports MLflow, not only in the Makefile.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
os.environ["DVC_NO_ANALYTICS"] = "1"
# MLflow prints "View run ... at <tracking URI>" for a server store: the URI may hold a
# password, and the stage logs say where the run went (redacted) already.
os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
# One log format for the pipeline and its libraries: MLflow logs through the root logger
# the stages configure (pipeline/stage.py) instead of a handler and format of its own.
os.environ["MLFLOW_CONFIGURE_LOGGING"] = "false"

# PyTensor from pip finds no BLAS and says so at every BTYD fit (models/btyd.py) with a
# page of advice; the fits are small (2-3 s on 18k customers, measured), so the stage logs
# stay readable without it.
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS", category=UserWarning)
