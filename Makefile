# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-all install lint bench clean docs

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: a CPU build of exactly this version is what the machines carry;
# an unpinned torch would pull several GB of CUDA wheels.
$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install -e ".[test,docs]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/galgen demo -o demo_output

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not gpu"; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi; exit $$rc

test-all: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m pip install -q ruff
	$(VENV)/bin/ruff check galgen tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/simulate.py

clean:
	rm -rf demo_output .pytest_cache

docs: $(STAMP)
	$(PY) -m sphinx -W -b html docs docs/_build/html
