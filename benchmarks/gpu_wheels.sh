#!/usr/bin/env bash
# Downloads into .whl/ the wheels the GPU benchmarks need on a machine whose image already has Python 3.12, a CUDA
# build of PyTorch, Triton, accelerate, peft, pandas, pyarrow and the Hugging Face hub client, but not TRL, datasets,
# Hydra, jsonschema, Liger or BFCL's data, and an older transformers. Pinned to the versions the project is tested
# with; about 22 MB. Install them there without resolving dependencies, ahead of the image's own packages:
#
#   python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
#   PYTHONPATH=/tmp/site:. python3 benchmarks/sft_gpu.py
#
# Checked by installing them the same way into a Python 3.12 environment with transformers 5.17 and none of
# Ray, DeepSpeed or W&B, where `benchmarks/sft_gpu.py --size tiny` ran.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  trl==1.16.0 transformers==5.23.0 tokenizers==0.23.3 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 \
  hydra-core==1.3.8 omegaconf==2.3.1 jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 \
  rpds-py==2026.9.1 liger-kernel==0.8.5 bfcl-eval==2026.3.23
python3 -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3  # Hydra's parser: a source release only
du -sh .whl
