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

.PHONY: setup generate validate train run shell test test-nlu test-stories clean

# Python 3.10 virtualenv with the pinned dependency set (requirements.lock).
$(BIN)/.installed: requirements.lock scripts/find_python.sh
	@python=$$(scripts/find_python.sh) && echo "Using $$python" && $$python -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip==23.2.1
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/pip check
	touch $@

$(SPACY_PIPELINE)/meta.json: $(BIN)/.installed scripts/build_spacy_pipeline.py
	$(PY) scripts/build_spacy_pipeline.py $(SPACY_PIPELINE)

setup: $(BIN)/.installed $(SPACY_PIPELINE)/meta.json

# Regenerates topic intents, rules and domain.yml from data/knowledge_base.yml.
generate: setup
	$(PY) scripts/generate_training_data.py

# Quotes verbatim, generated files fresh, Rasa's own data checks.
validate: setup
	$(PY) scripts/generate_training_data.py --check
	$(RASA) data validate --fail-on-warnings --domain domain.yml --data data

# Trains only when training data, domain or config changed.
$(MODEL): $(TRAINING_INPUTS) | setup
	$(PY) scripts/generate_training_data.py --check
	$(RASA) train --fixed-model-name botox-faq --out models

train: $(MODEL)

run: train
	scripts/run.sh

shell: train
	scripts/run.sh shell

test-nlu: train
	$(PY) scripts/evaluate_nlu.py --model $(MODEL) tests/nlu_heldout.yml

test-stories: train
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml --fail-on-prediction-errors --out results/stories

test: validate train
	$(PY) -m pytest tests

clean:
	rm -rf $(VENV) build models/*.tar.gz results .rasa
