# Two entry points: `make demo` (set up, run the main job) and `make test` (set up, run every check).
# Set-up installs the CPU build of torch first (torch==2.13.0 lies on this machine's disk), so the
# package's own range `torch>=2.2` is already met and pip never pulls a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PIN ?= torch==2.13.0
SHARED_DATA := $(abspath ../shared/data)
export RNNKIT_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)

.PHONY: setup browser demo test lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_PIN)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

# Debian's chromium, which the browser tests drive (tests/serve/test_web_page.py); quiet, and
# nothing to do once it is there. Playwright never downloads a browser of its own.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# The main job: a character LSTM learns Tiny Shakespeare (shipped with rnnkit) for DEMO_MINUTES on
# one CPU thread (fastest on a machine shared with other jobs; DEMO_THREADS=2 on an idle one), with a
# progress bar and samples as it learns, saves runs/shakespeare, then writes a passage of its own.
DEMO_MINUTES ?= 5
DEMO_THREADS ?= 1
demo: setup
	$(PY) examples/hello.py
	$(VENV)/bin/rnnkit train lm --data tinyshakespeare --max-time $(DEMO_MINUTES) \
		--threads $(DEMO_THREADS) --sample-every 100 --progress --out runs/shakespeare --overwrite
	$(VENV)/bin/rnnkit generate runs/shakespeare --prime "ROMEO:" --length 700 --seed 1

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# RNNKIT_REQUIRE_BROWSER=1: a missing browser fails the browser tests instead of skipping them;
# the 20 slowest tests are listed at the end (the whole suite must stay under 10 minutes).
# TEST_WORKERS pytest processes share the tests a file at a time (2 on a 2-core machine: the
# suite in about 60% of the one-process time; TEST_WORKERS=0 runs them in this process).
TEST_WORKERS ?= 2
test: lint browser
	RNNKIT_REQUIRE_BROWSER=1 $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --durations=20

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
