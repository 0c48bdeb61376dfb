#!/usr/bin/env python3
"""Cases of `cargo xtask bench` that ../shared/bench-peers/torch_bench.py does not have, timed the
same way (3 warm-up calls, then the median and minimum of --repeat calls, in ms).

Usage: python torch_extra.py [--threads N] [--only NAME[,NAME...]] [--repeat R]
Cases: dgemm/512 (torch.mm on float64), adam_step/1048576 (one torch.optim.Adam step on a
parameter of 2^20 f32 elements whose gradient is already set), and unary/<op>_<f32|f64>/<n> for op in exp, log, tanh,
sigmoid, gelu or gelu_erf (erf form), gelu_tanh, silu, softplus (one op on n elements drawn from N(0, 1); log
on their absolute values plus 0.5).
`cargo xtask bench --compare` runs it beside torch_bench.py and joins the lines on `case`.
"""
import argparse, json, statistics, time
import torch
import torch.nn.functional as F


def timeit(fn, repeat, warmup=3):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts), min(ts)


UNARY = {
    'exp': torch.exp,
    'log': torch.log,
    'tanh': torch.tanh,
    'sigmoid': torch.sigmoid,
    'gelu': F.gelu,
    'gelu_erf': F.gelu,
    'gelu_tanh': lambda x: F.gelu(x, approximate='tanh'),
    'silu': F.silu,
    'softplus': F.softplus,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--only', default='')
    ap.add_argument('--repeat', type=int, default=20)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = lambda d: print(json.dumps({**d, 'threads': a.threads, 'peer': f'torch-{torch.__version__}'}), flush=True)
    for case in filter(None, a.only.split(',')):
        parts = case.split('/')
        if case == 'dgemm/512':
            x = torch.randn(512, 512, dtype=torch.float64)
            y = torch.randn(512, 512, dtype=torch.float64)
            med, mn = timeit(lambda: torch.mm(x, y), a.repeat)
            out({'case': case, 'median_ms': med, 'min_ms': mn, 'gflops': 2.0 * 512 ** 3 / med / 1e6})
        elif case == 'adam_step/1048576':
            n = 1 << 20
            p = torch.nn.Parameter(torch.randn(n))
            p.grad = torch.randn(n)
            opt = torch.optim.Adam([p])
            med, mn = timeit(opt.step, a.repeat)
            out({'case': case, 'median_ms': med, 'min_ms': mn, 'gbps': 28.0 * n / med / 1e6})
        elif len(parts) == 3 and parts[0] == 'unary' and parts[1].rsplit('_', 1)[-1] in ('f32', 'f64'):
            op, dtype = parts[1].rsplit('_', 1)
            if op not in UNARY:
                continue
            n = int(parts[2])
            x = torch.randn(n, dtype=torch.float32 if dtype == 'f32' else torch.float64)
            if op == 'log':
                x = x.abs() + 0.5
            fn = UNARY[op]
            med, mn = timeit(lambda: fn(x), a.repeat)
            out({'case': case, 'median_ms': med, 'min_ms': mn,
                 'gbps': 2 * x.numel() * x.element_size() / med / 1e6})


if __name__ == '__main__':
    main()
