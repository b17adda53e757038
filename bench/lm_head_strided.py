"""Why the LM head's input is made contiguous: the CPU's product of a strided 3-D input with Qwen's 151,936 x 896 head,
in float32 and bf16, against the same input made contiguous (what `logits_to_keep` hands the head: the last positions of
the hidden states, a strided slice). Prints a markdown table.

    python bench/lm_head_strided.py [--threads 2]
"""
import argparse
import time

import torch
import torch.nn.functional as F


def seconds(f, n=3) -> float:
    f(); t = time.perf_counter()
    for _ in range(n): f()
    return (time.perf_counter() - t) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"| dtype | strided (4, 200 of 300, 896) input, s | contiguous input, s | ratio |\n|---|---|---|---|")
    for dt in (torch.float32, torch.bfloat16):
        h, w = torch.randn(4, 300, 896).to(dt), torch.randn(151936, 896).to(dt)
        x = h[:, -200:, :]
        a, b = seconds(lambda: F.linear(x, w)), seconds(lambda: F.linear(x.contiguous(), w))
        print(f"| {str(dt)[6:]} | {a:.3f} | {b:.3f} | {a / b:.1f}x |")


if __name__ == "__main__":
    main()
