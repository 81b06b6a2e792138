# Two commands a newcomer needs: `make run` and `make test`. Both bootstrap a pinned uv into
# .tools/ and install the locked dependencies into .venv/ first.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
RUN := $(VENV)/bin

.PHONY: run worker test lint format typecheck check bench migrate clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --python $(PYTHON)
	@touch $@

install: $(VENV)/.synced

run: install
	$(RUN)/python -m app

# A generation worker consuming the Redis stream (needs REDIS_URL); start as many as you like.
worker: install
	$(RUN)/python -m app.worker

test: install
	$(RUN)/pytest $(PYTEST_ARGS)

lint: install
	$(RUN)/ruff check .
	$(RUN)/ruff format --check .

typecheck: install
	$(RUN)/mypy app

check: lint typecheck test

format: install
	$(RUN)/ruff format .
	$(RUN)/ruff check --fix .

migrate: install
	$(RUN)/alembic upgrade head

bench: install
	$(RUN)/python -m bench.generation_models

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache
