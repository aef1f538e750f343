"""The LM head's backward products on this CPU, for one micro batch's labelled positions against one vocabulary tile
of SmolLM2-135M (hidden 576, TRL's 32,768-column tile): fp32 products from bf16 inputs (TRL's `_addmm_fp32` on the
CPU), a bf16 product cast to fp32, and whether torch offers bf16 products accumulated in fp32 (`out_dtype`, TRL's
CUDA path) on the CPU. With ``--whole``, also the whole head over the full 49,152-token vocabulary, forward and
backward: TRL's chunked log-prob function (what the stages run) against one fp32 linear, log-softmax and gather (what
the plain loop in benchmarks/cpu_speed.py runs), with the head's weight in bf16 (full fine-tuning under DeepSpeed's
bf16) and in fp32.

    PYTHONPATH=. .venv/bin/python benchmarks/head_products.py [--positions 160] [--whole]
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


def _median_s(fn, repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[repeat // 2]


def whole_head(n: int, hidden: int = 576, vocab: int = 49152) -> None:
    """Forward and backward of the head over ``n`` labelled positions, TRL's way and the plain loop's, in turns."""
    import torch.nn.functional as F
    from trl.trainer.utils import _CHUNKED_LOGPROB_CHUNK_SIZE, _ChunkedLogProbFunction

    states = torch.randn(n, hidden).to(torch.bfloat16)
    targets = torch.randint(0, vocab, (n,))
    for dtype in (torch.bfloat16, torch.float32):
        weight = (torch.randn(vocab, hidden) * 0.02).to(dtype).requires_grad_()

        def trl(weight=weight):
            h = states.clone().requires_grad_()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                log_probs = _ChunkedLogProbFunction.apply(h, weight, None, targets, 1.0, _CHUNKED_LOGPROB_CHUNK_SIZE,
                                                          None, 1.0, ("log_probs",))[0]
            (-log_probs.sum()).backward()

        def plain(weight=weight):
            h = states.clone().requires_grad_()
            logits = F.linear(h.float(), weight.float())
            (-torch.log_softmax(logits, -1).gather(1, targets[:, None]).sum()).backward()

        rounds = {"TRL chunked": [], "fp32 linear": []}
        for _ in range(2):
            for name, fn in (("TRL chunked", trl), ("fp32 linear", plain)):
                rounds[name].append(_median_s(fn))
        print(f"whole head, {str(dtype).removeprefix('torch.')} weight, {n} positions, forward + backward: "
              + ", ".join(f"{name} {min(t) * 1000:.0f} ms" for name, t in rounds.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--positions", type=int, default=160, help="labelled positions in the micro batch")
    ap.add_argument("--whole", action="store_true", help="also time the whole head, TRL's against a plain fp32 one")
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
    if args.whole:
        whole_head(n)


if __name__ == "__main__":
    main()
