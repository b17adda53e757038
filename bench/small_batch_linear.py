"""x·Wᵀ against (W·xᵀ)ᵀ at the row counts of a decoding step, for Qwen2.5-Coder-0.5B's matrix shapes: milliseconds
(best of 5) and the largest difference between the two results. `etpo.models.small_batch_linear` picks the faster
orientation per shape, row count and thread count.

    python bench/small_batch_linear.py               # about a minute
    python bench/small_batch_linear.py --threads 1
"""
import argparse
import time

import torch

SHAPES = {"attention q/o (896 x 896)": (896, 896), "MLP gate/up (896 -> 4864)": (896, 4864), "MLP down (4864 -> 896)": (4864, 896),
          "LM head (896 -> 151936)": (896, 151936)}


def best_ms(f, repeats: int = 5) -> float:
    f()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--rows", default="1,2,4,8,16")
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    rows = [int(r) for r in args.rows.split(",")]
    print(f"float32, {torch.get_num_threads()} threads; each cell: x·Wᵀ ms / (W·xᵀ)ᵀ ms\n")
    print("| matrix | " + " | ".join(f"{r} rows" for r in rows) + " | max abs difference |")
    print("|---|" + "---|" * len(rows) + "---|")
    torch.manual_seed(0)
    for name, (i, o) in SHAPES.items():
        w, cells, diff = torch.randn(o, i), [], 0.0
        for r in rows:
            x = torch.randn(r, i)
            a, b = best_ms(lambda: torch.nn.functional.linear(x, w)), best_ms(lambda: (w @ x.t()).t())
            diff = max(diff, (torch.nn.functional.linear(x, w) - (w @ x.t()).t()).abs().max().item())
            cells.append(f"{a:.2f} / {b:.2f}")
        print(f"| {name} | " + " | ".join(cells) + f" | {diff:.1e} |")


if __name__ == "__main__":
    main()
