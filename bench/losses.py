"""Memory and time of `soft_value` and `policy_loss` (forward + backward) against naive full-vocabulary versions.

Each measurement runs in a fresh process (`ProcessPoolExecutor(max_tasks_per_child=1)`): peak extra memory is the
growth of the process's resident high-water mark (`ru_maxrss`) during the call, beyond the inputs, measured with
`MALLOC_MMAP_THRESHOLD_=65536` so that glibc returns freed tensors to the OS at once (otherwise the high-water mark
counts memory the allocator merely kept); times come from separate processes with the default allocator.
Prints a table; the unit "x(B,T,V)" is one float32 tensor of the input shape.

    python bench/losses.py            # B=8, T=256, V=32016 (CodeLlama's vocabulary), about 1 minute
    python bench/losses.py --quick    # B=2, T=64
"""
import argparse
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor


def _naive_soft_value(q, pi, ref, beta):
    import torch
    logp = torch.log_softmax(pi, -1)
    return (logp.exp() * (q - beta * (logp - torch.log_softmax(ref, -1)))).sum(-1)


def measure(case, B, T, V, repeats):
    import torch
    from etpo.losses import policy_loss, soft_policy_loss, soft_value
    torch.manual_seed(0)
    q, pi, ref = (torch.randn(B, T, V) for _ in range(3))
    mask = torch.ones(B, T)
    if case.startswith("policy_loss"): pi.requires_grad_(True)
    fns = {
        "soft_value (etpo)": lambda: soft_value(q, pi, ref, 0.01),
        "soft_value (naive)": lambda: torch.no_grad()(_naive_soft_value)(q, pi, ref, 0.01),
        "policy_loss (etpo)": lambda: policy_loss(pi, q, ref, 0.01, mask).backward(),
        "policy_loss (naive)": lambda: soft_policy_loss(pi, q, ref, 0.01, mask).backward(),   # the plain definition
    }
    fn = fns[case]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter(); fn(); first = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    times = [first]
    for _ in range(repeats - 1):
        pi.grad = None
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return case, peak_kb * 1024, min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small shapes (B=2, T=64)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = ap.parse_args()
    B, T, V = (2, 64, 32016) if args.quick else (8, 256, 32016)
    unit = B * T * V * 4
    cases = ["soft_value (etpo)", "soft_value (naive)", "policy_loss (etpo)", "policy_loss (naive)"]
    def run(env):
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            with ProcessPoolExecutor(1, max_tasks_per_child=1) as pool:
                return [pool.submit(measure, c, B, T, V, args.repeats).result() for c in cases]
        finally:
            for k, v in old.items():
                if v is None: os.environ.pop(k)
                else: os.environ[k] = v
    mem = run({"MALLOC_MMAP_THRESHOLD_": "65536"})
    timing = run({})
    rows = [(c, peak, t) for (c, peak, _), (_, _, t) in zip(mem, timing)]
    print(f"B={B}, T={T}, V={V}: one (B,T,V) float32 tensor = {unit / 2**20:.0f} MiB; CPU, float32 inputs\n")
    print("| function | peak extra memory | x(B,T,V) | time per call (s) |")
    print("|---|---|---|---|")
    for case, peak, t in rows:
        print(f"| {case} | {peak / 2**20:.0f} MiB | {peak / unit:.2f} | {t:.3f} |")
    if args.json:
        import json
        with open(args.json, "w") as f:
            json.dump(dict(B=B, T=T, V=V, rows=[dict(case=c, peak_bytes=p, tensors=p / unit, seconds=t) for c, p, t in rows]), f, indent=1)


if __name__ == "__main__":
    main()
