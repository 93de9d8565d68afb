"""Peer of `bitcap check --kv-bench`: PyTorch SDPA fp16 decode attention (one query per sequence) at the same shapes,
the best of the flash / efficient / cuDNN backends, CUDA events, median of 30, plus a device copy in the same run.
Prints one line per shape: PEER heads kvHeads batch length best_us best_backend and every backend's time.
Optional arguments narrow the shapes: heads (e.g. 32/8,32/32), batches (1,8) and lengths (32768,131072)."""
import sys
import torch
import torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend


def bench(fn, warm=5, rep=30):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(rep):
        s = torch.cuda.Event(enable_timing=True)
        e = torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        ts.append(s.elapsed_time(e))
    ts.sort()
    return ts[len(ts) // 2]


dev = torch.device("cuda")
print(torch.__version__, torch.cuda.get_device_name())
a = torch.empty(1 << 30, dtype=torch.uint8, device=dev)
b = torch.empty_like(a)
ms = bench(lambda: b.copy_(a), rep=20)
print(f"COPY {2 * a.numel() / ms / 1e6:.0f} GB/s")
del a, b
D = 128
backends = [("flash", SDPBackend.FLASH_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]
HEADS = [tuple(map(int, h.split("/"))) for h in sys.argv[1].split(",")] if len(sys.argv) > 1 else [(32, 8), (32, 32)]
BATCHES = [int(b) for b in sys.argv[2].split(",")] if len(sys.argv) > 2 else [1, 8, 32]
LENGTHS = [int(n) for n in sys.argv[3].split(",")] if len(sys.argv) > 3 else [4096, 32768, 131072]
for heads, kvh in HEADS:
    for L in LENGTHS:
        for B in BATCHES:
            need = 2 * B * kvh * L * D * 2
            free = torch.cuda.mem_get_info()[0]
            if need + (2 << 30) > free:
                print(f"PEER {heads} {kvh} {B} {L} skipped: K+V {need / 2**30:.1f} GiB > {free / 2**30:.1f} GiB free", flush=True)
                continue
            q = torch.randn(B, heads, 1, D, device=dev, dtype=torch.float16)
            k = torch.randn(B, kvh, L, D, device=dev, dtype=torch.float16)
            v = torch.randn_like(k)
            times = {}
            for name, be in backends:
                try:
                    with sdpa_kernel(be):
                        times[name] = bench(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=heads != kvh)) * 1e3
                except Exception as ex:  # a backend that refuses the shape
                    times[name] = str(ex).splitlines()[0][:50] if str(ex) else type(ex).__name__
            ok = {n: t for n, t in times.items() if isinstance(t, float)}
            best = min(ok, key=ok.get) if ok else "none"
            detail = " ".join(f"{n}={t:.1f}" if isinstance(t, float) else f"{n}=fail({t})" for n, t in times.items())
            gbs = need / (ok[best] * 1e-6) / 1e9 if ok else float("nan")
            print(f"PEER {heads} {kvh} {B} {L} {ok.get(best, float('nan')):.1f} {best} {gbs:.0f}GB/s {detail}", flush=True)
            del q, k, v
            torch.cuda.empty_cache()
