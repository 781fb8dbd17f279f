# Two commands for users: `make repro` runs the pipeline, `make test` runs the tests.
# Both create the project's virtual environment from the pinned lock first.

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
UV_VERSION := 0.13.9

# Stage commands in dvc.yaml call `python`: make it the project's.
export PATH := $(BIN):$(PATH)
# No network at run time: DVC analytics and MLflow telemetry off.
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: setup repro test test-fast params lock lint format bench bench-featurize bench-scale simulator-summary \
	features-vs-truth labels-vs-truth model-vs-oracle bench-explain explain-fidelity cause-attribution bench-score \
	bench-train bench-boosting value-at-risk value-vs-truth lapsed-vs-truth btyd-features score promote promotions tune ui screenshots \
	clean own-data-demo

setup: $(VENV)/.installed

# Libraries are compiled to bytecode once, at install: with PYTHONDONTWRITEBYTECODE set, each
# process would otherwise compile every module it imports again (importing PyMC-Marketing
# and a stage took 13.4 s; compiled, 7.9 s).
$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

## Run the whole DVC pipeline on the configured data (simulated by default).
repro: setup
	dvc repro

## Run the whole test suite: logic, stages, notebooks and DVC end to end (CI runs this).
## One worker per core; a test file stays on one worker, so its module fixtures run once.
test: setup
	pytest -n auto --dist loadfile

## The inner loop: the logic tests on tiny frames and the layout checks, without Spark
## (its session alone takes a minute; `make test` runs it).
test-fast: setup
	pytest -m "logic and not spark" -n auto --dist loadfile

## Recompose params.yaml from conf/ after editing conf/ (dvc repro reads params.yaml).
params: setup
	python -m pipeline.params

## Re-resolve requirements.lock after changing dependencies in pyproject.toml.
lock: setup
	uv pip compile pyproject.toml --extra dev --constraint constraints.txt --python-version 3.11 \
		--generate-hashes --quiet -o requirements.lock

## Ruff, and the import contracts of pyproject.toml (stages on top, logic below).
lint: setup
	ruff check . && ruff format --check . && lint-imports

format: setup
	ruff check --fix . && ruff format .

## Time and peak memory of the simulator at larger sizes (results in the README).
bench: setup
	python benchmarks/bench_generate.py

## Time and peak memory of validate and featurize at 100k and 1M customers: every engine and
## the previous implementation side by side (results in the README).
bench-featurize: setup
	PYTHONPATH=. python benchmarks/bench_featurize.py

## How generate, validate and featurize (DuckDB, one cutoff) scale from 1M to 10M customers.
bench-scale: setup
	PYTHONPATH=. python benchmarks/bench_scale.py --sizes 1000000 10000000

## Realised churn rate, cause mix and complaint sparsity of the data in data/.
simulator-summary: setup
	python benchmarks/simulator_summary.py

## Labels and lifecycle stages of data/features against the simulator's ground truth.
features-vs-truth: setup
	python benchmarks/features_vs_truth.py

## Non-contractual churn label candidates against the simulator's truth, and the model
## trained on each ranking true churn (benchmarks/results/labels_vs_truth.md). Needs
## every cutoff's features: `dvc exp run -S features.cutoffs=all` first.
labels-vs-truth: setup
	python benchmarks/labels_vs_truth.py

## BG/NBD's P(alive) and expected purchases as extra booster features: do they help?
btyd-features: setup
	python benchmarks/btyd_features.py

## The train stage's model against the oracle, with and without the simulator's true state.
model-vs-oracle: setup
	python benchmarks/model_vs_oracle.py

## Explained rows per second (LightGBM vs shap, tree sizes) and fidelity per tree size.
bench-explain: setup
	python benchmarks/bench_explain.py

## Time and peak memory of the train stage at 100k and 1M customers: the steps, the fits'
## share, other row budgets and the previous implementation side by side; and every stage of
## dvc repro at both sizes (results in the README).
bench-train: setup
	PYTHONPATH=. python benchmarks/bench_train.py

## LightGBM's learning rate and early-stopping patience: trees, fit time and test metrics
## over three seeds, on the data of params.yaml (PARAMS=... for a kept bench-train size).
bench-boosting: setup
	python benchmarks/boosting_rate.py --params $(or $(PARAMS),params.yaml)

## Why the explanations name the true cause as often as they do (simulated data).
explain-fidelity: setup
	python benchmarks/explain_fidelity.py

## Candidate ways of naming churn causes, top-1 and top-3 against the truth (simulated data).
cause-attribution: setup
	python benchmarks/cause_attribution.py

## Time and peak memory of a whole scoring run at 100k and 1M customers.
bench-score: setup
	python benchmarks/bench_score.py

## The whole pipeline through `dvc repro` on (a) a two-column purchase log and (b) a CRM
## snapshot with a label, derived from the simulator, each in a copy of the repository
## under own-data-demo/ (README, "Your data in ten minutes").
own-data-demo: setup
	python -m demo.own_data --out own-data-demo

## Value at risk the retention lists capture vs ranking by probability (simulated data).
value-at-risk: setup
	python benchmarks/value_at_risk.py

## Prevention lists, lapsed flag and win-back list against who had truly left (simulated).
lapsed-vs-truth: setup
	python benchmarks/lapsed_vs_truth.py

## Future customer value (BTYD x Gamma-Gamma, and the 90-day run rate) against what the
## customers who truly stayed then brought (needs `make repro`).
value-vs-truth: setup
	python benchmarks/value_vs_truth.py

## A scheduled scoring run: validate the current data, then lists as of AS_OF (default: the
## end of the data) from the registry's champion, under RETENTION_DIR (a folder outside the
## repository needs ALLOW_OUTSIDE=true).
AS_OF ?=
RETENTION_DIR ?= exports/retention
ALLOW_OUTSIDE ?= false
score: setup
	dvc repro validate
	python -m pipeline.score $(if $(AS_OF),as_of=$(AS_OF)) paths.retention_dir=$(RETENTION_DIR) \
		paths.allow_outside_repository=$(ALLOW_OUTSIDE)

## Move the registry's champion alias to the version the last train run registered (or
## VERSION=<n>) when it beats the champion on the same held-out rows (conf/tracking:
## promotion); the decision and its evidence are recorded either way.
VERSION ?=
promote: setup
	python -m pipeline.promote $(if $(VERSION),version=$(VERSION))

## Every recorded promotion decision, newest first (the alias's audit trail).
promotions: setup
	python -m pipeline.promotions

## Optional hyperparameter search (Optuna), every trial an MLflow run; prints the best setting.
tune: setup
	python -m pipeline.tune

## MLflow UI at http://127.0.0.1:$(MLFLOW_PORT) on the store tracking.tracking_uri names
## (or MLFLOW_TRACKING_URI); prints the churn experiment's page once the server answers.
MLFLOW_PORT ?= 5000
ui: setup
	python -m pipeline.ui tracking.ui_url=http://127.0.0.1:$(MLFLOW_PORT)

## The README's screenshots of the MLflow UI and a plots diff page (docs/images/), in
## headless Chromium (Debian package `chromium`); after repro, promote and a dvc exp run.
screenshots: setup
	python -m docs.screenshots

clean:
	rm -rf $(VENV)
