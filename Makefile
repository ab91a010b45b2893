# fraudsim developer commands. Each target installs what it needs into .venv first.
#   make baseline   generate outputs/baseline/ from scenarios/baseline.toml
#   make test       lint (ruff) and run the whole test suite (what CI runs)
#   make bench      throughput and peak-memory benchmark (100,000 customers x 30 days)

VENV := .venv
# Mesa 3.5 needs Python >= 3.12: take the first interpreter that is at least that.
PYTHON ?= $(shell for c in python3.12 python3.13 python3 $$HOME/.pyenv/versions/3.12*/bin/python3.12 \
	/usr/bin/python3.12 /usr/local/bin/python3.12; do \
	$$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { echo $$c; break; }; done)

.PHONY: baseline test lint bench clean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: fraudsim needs Python >= 3.12 (none found); install python3.12" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@touch $@

baseline: $(VENV)/.installed
	$(VENV)/bin/fraudsim run scenarios/baseline.toml

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check fraudsim tests benchmarks

test: lint
	$(VENV)/bin/python -m pytest

bench: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
