# Two commands on a fresh machine: `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test check lint typecheck bench setup clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) scripts/run_stack.py

# pytest exits 5 when it collected nothing: a run that tested nothing fails, and says so.
test: setup
	$(PY) scripts/with_redis.py -- $(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; fi; exit $$status

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy .

check: lint typecheck test

LOADGEN := var/loadgen-venv/bin/python
FANOUT  := ../shared/bench/fanout

# The fan-out load generator runs in its own venv (websockets + uvloop), as its README says.
$(LOADGEN):
	if [ -f $(FANOUT)/requirements.txt ]; then \
	  $(PYTHON) -m venv var/loadgen-venv && \
	  var/loadgen-venv/bin/pip install --quiet -r $(FANOUT)/requirements.txt; fi

bench: setup $(LOADGEN)
	$(PY) scripts/with_redis.py -- $(PY) bench/run_all.py $(BENCH)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
