# Start here: `make run` (set up, train if needed, run) and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
RASA := $(BIN)/rasa
MODEL := models/botox-faq.tar.gz
SPACY_PIPELINE := build/spacy-en
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null) $(SPACY_PIPELINE)/meta.json
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup generate validate train run shell test test-unit test-e2e lint format types eval test-nlu test-stories \
	triage-eval review bench telegram-webhook-set telegram-webhook-delete clean

# Python 3.10 virtualenv with the pinned dependency set (requirements.lock),
# and this project installed into it (pyproject.toml, editable).
$(BIN)/.installed: requirements.lock pyproject.toml scripts/find_python.sh
	@python=$$(scripts/find_python.sh) && echo "Using $$python" && $$python -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $@

$(SPACY_PIPELINE)/meta.json: $(BIN)/.installed scripts/build_spacy_pipeline.py
	$(PY) scripts/build_spacy_pipeline.py $(SPACY_PIPELINE)

setup: $(BIN)/.installed $(SPACY_PIPELINE)/meta.json

# Regenerates topic intents, rules and domain.yml from data/knowledge_base.yml.
generate: setup
	$(PY) -m scripts.generate_training_data

# Quotes verbatim, generated files fresh, Rasa's own data checks.
validate: setup
	$(PY) -m scripts.generate_training_data --check
	$(RASA) data validate --fail-on-warnings --domain domain.yml --data data

# Trains only when training data, domain or config changed.
$(MODEL): $(TRAINING_INPUTS) | setup
	$(PY) -m scripts.generate_training_data --check
	$(RASA) train --fixed-model-name botox-faq --out models

train: $(MODEL)

run: train
	scripts/run.sh

shell: train
	scripts/run.sh shell

# The fast lane (under a minute, no servers): style, the import rules, types, unit tests.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PY) -m scripts.check_imports

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

types: setup
	$(BIN)/mypy faq nlu triage channels stores

test-unit: setup
	$(PY) -m pytest tests/unit -q

# What real patients and everyday users would get (issue 9): dev and held-out
# real-voice sets; fails when a dev figure drops below its floor.
eval: train
	$(PY) -m scripts.evaluate_realvoice --model $(MODEL) --gate

test-nlu: train
	$(PY) -m scripts.evaluate_nlu --model $(MODEL) tests/data/nlu_heldout.yml

test-stories: train
	$(RASA) test core --model $(MODEL) --stories tests/data/test_stories.yml --fail-on-prediction-errors --out results/stories

# Triage figures (docs/triage.md); exits non-zero when a target is missed.
triage-eval: setup
	$(PY) -m triage.evaluate tests/data/triage_cases.yml tests/data/triage_cases_second.yml tests/data/nlu_heldout.yml \
	  --extra tests/data/triage_cases_third.yml tests/data/triage_cases_fourth.yml

# Slow suite: real Rasa and action servers, REST and Telegram, the browser,
# PostgreSQL and Redis (started by scripts/services.sh when none is running).
test-e2e: train
	scripts/install_browser.sh
	scripts/services.sh $(PY) -m pytest tests/e2e

# Everything, fast lane first: lint, types, unit tests, data checks, figures, end to end.
test: lint types test-unit validate train triage-eval eval test-e2e

# Clinic review from the tracker store (docs/review.md). SINCE/UNTIL=YYYY-MM-DD (UTC), default last 30 days.
review: setup
	$(PY) -m review --endpoints $(or $(ENDPOINTS),endpoints.yml) $(if $(SINCE),--since $(SINCE)) $(if $(UNTIL),--until $(UNTIL)) --out results/review.html --nlu-out results/candidates.yml

# This assistant vs a plain `rasa init` bot, same load, same machine (~10 min; docs/production.md).
bench: train
	$(PY) scripts/bench.py

telegram-webhook-set: setup
	$(PY) scripts/telegram_webhook.py set

telegram-webhook-delete: setup
	$(PY) scripts/telegram_webhook.py delete

clean:
	rm -rf $(VENV) build models/*.tar.gz results .rasa
