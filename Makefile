# keyfolio developer commands. Everything bootstraps from plain `python3 -m venv`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench install format clean browser screenshot

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/keyfolio demo

# One worker per core plus one: many tests wait on a subprocess, a sandbox or the browser, and the
# extra worker keeps both cores busy meanwhile; an idle worker steals tests from a busy one (no
# slow tail). Bytecode
# caches are written even where PYTHONDONTWRITEBYTECODE is set: a run starts ~300 Python
# processes, and without them each recompiles keyfolio and each worker re-rewrites the asserts
# of every pytest plugin. docs/testing.md explains the suite and how to run parts of it.
test: $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n $$(( $$(nproc) + 1 )) --dist worksteal -q

# lint: ruff, formatting, mypy strict, the import layers, and bandit's high-severity findings
# (a justified exception is marked `# nosec BXXX` with the reason on the same line).
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -q -r src -lll

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP)
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/sync_many.py
	$(BIN)/python bench/trade_to_event.py
	$(BIN)/python bench/pnl_scale.py
	$(BIN)/python bench/history_query.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/history_p95.py
	$(BIN)/python bench/memory.py

# Rewrite docs/img/dashboard.png (the README's picture) from the browser test.
screenshot: $(STAMP) browser
	KEYFOLIO_UPDATE_SCREENSHOT=1 $(BIN)/python -m pytest -q tests/web/test_web_dashboard.py -k screenshot

# Debian's Chromium for the dashboard's browser tests (Playwright drives /usr/bin/chromium).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q chromium || { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }; }
	@chromium --version 2>/dev/null | head -1

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
