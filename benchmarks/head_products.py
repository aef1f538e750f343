"""The LM head's backward products on this CPU, for one micro batch's labelled positions against one vocabulary tile
of SmolLM2-135M (hidden 576, TRL's 32,768-column tile): fp32 products from bf16 inputs (TRL's `_addmm_fp32` on the
CPU), a bf16 product cast to fp32, and whether torch offers bf16 products accumulated in fp32 (`out_dtype`, TRL's
CUDA path) on the CPU.

    PYTHONPATH=. .venv/bin/python benchmarks/head_products.py [--positions 160]
"""

import argparse
import time

import torch


def _ms(fn, repeat: int = 5) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--positions", type=int, default=160, help="labelled positions in the micro batch")
    args = ap.parse_args()
    torch.manual_seed(0)
    n, hidden, tile = args.positions, 576, 32768
    grad_logits = torch.randn(n, tile, dtype=torch.bfloat16)
    weight = torch.randn(tile, hidden, dtype=torch.bfloat16)
    states = torch.randn(n, hidden, dtype=torch.bfloat16)
    grad_hidden, grad_weight = torch.zeros(n, hidden), torch.zeros(tile, hidden)
    exact = torch.zeros(n, hidden).addmm_(grad_logits.float(), weight.float())
    rounded = torch.mm(grad_logits, weight).float()
    print(f"hidden-state gradient, fp32 product of bf16 inputs: "
          f"{_ms(lambda: grad_hidden.zero_().addmm_(grad_logits.float(), weight.float())):.0f} ms")
    print(f"weight gradient, fp32 product of bf16 inputs: "
          f"{_ms(lambda: grad_weight.zero_().addmm_(grad_logits.t().float(), states.float())):.0f} ms")
    print(f"hidden-state gradient, bf16 product cast to fp32: {_ms(lambda: torch.mm(grad_logits, weight).float()):.0f}"
          f" ms, max error {((rounded - exact).abs().max() / exact.abs().max()).item():.2%} of the largest entry")
    try:
        torch.addmm(grad_hidden, grad_logits, weight, out_dtype=torch.float32, out=grad_hidden)
        print("bf16 product accumulated in fp32 (out_dtype): available on this CPU")
    except (NotImplementedError, RuntimeError) as e:
        print(f"bf16 product accumulated in fp32 (out_dtype): not available on this CPU ({type(e).__name__})")


if __name__ == "__main__":
    main()
