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
	@# Pseudo-motion pre-training vs scratch on the built-in synthmotion proxy, small enough for a 2-core CPU
	@# (8-frame 32 px clips, VideoMAE-tiny); every stage is timed into $(DEMO)/times.txt.
	@set -e; mkdir -p $(DEMO); : > $(DEMO)/times.txt; \
	stage() { name=$$1; shift; start=$$(date +%s); "$$@"; \
	  echo "demo stage $$name: $$(( $$(date +%s) - start )) s" | tee -a $(DEMO)/times.txt; }; \
	finetune() { $(VENV)/bin/eval-vmae finetune --dataset synthmotion --root $(DEMO)/synthmotion --frames 8 \
	  --size 32 --epochs 20 --batch-size 32 --lr 1e-3 --no-mixup --head-init-scale 1 --num-workers 2 --seed 0 \
	  --device cpu --overwrite "$$@"; }; \
	began=$$(date +%s); \
	stage render $(VENV)/bin/synth render --images fractal:categories=16,instances=16 --out $(DEMO)/shards \
	  --num-videos 512 --frames 8 --size 32 --shard-size 64 --workers 2; \
	stage verify $(VENV)/bin/synth verify $(DEMO)/shards; \
	stage info $(VENV)/bin/synth info $(DEMO)/shards; \
	stage preview $(VENV)/bin/synth preview $(DEMO)/shards --out $(DEMO)/preview.png; \
	stage pretrain $(VENV)/bin/train-vmae --shards $(DEMO)/shards --out $(DEMO)/pretrain --model tiny --steps 1000 \
	  --batch-size 32 --lr 3e-4 --workers 2 --device cpu --seed 0 --overwrite; \
	stage finetune-pretrained finetune --checkpoint $(DEMO)/pretrain --out $(DEMO)/finetune-pretrained; \
	stage finetune-scratch finetune --checkpoint scratch --model tiny --out $(DEMO)/finetune-scratch; \
	stage report $(VENV)/bin/eval-vmae report $(DEMO)/finetune-pretrained $(DEMO)/finetune-scratch \
	  --out $(DEMO)/report; \
	echo "demo total: $$(( $$(date +%s) - began )) s" | tee -a $(DEMO)/times.txt

test: $(VENV)/.installed
	$(PY) -m pytest -q

bench: $(VENV)/.installed
	$(PY) bench/synth_throughput.py

clean:
	rm -rf $(DEMO) .pytest_cache
