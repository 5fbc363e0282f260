# The README's two commands: `make demo` (the main job on built-in data) and `make test` (the test suite).
# Both create or reuse .venv and install the project with the pinned constraints.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO ?= demo

.PHONY: demo test bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/synth render --images fractal:categories=8,instances=8 --out $(DEMO)/shards \
		--num-videos 64 --shard-size 16 --workers 2
	$(VENV)/bin/synth verify $(DEMO)/shards
	$(VENV)/bin/synth info $(DEMO)/shards
	$(VENV)/bin/synth preview $(DEMO)/shards --out $(DEMO)/preview.png

test: $(VENV)/.installed
	$(PY) -m pytest -q

bench: $(VENV)/.installed
	$(PY) bench/synth_throughput.py

clean:
	rm -rf $(DEMO) .pytest_cache
