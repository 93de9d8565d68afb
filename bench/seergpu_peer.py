"""PyTorch's flash causal attention (and cuDNN's) at the prefill benchmark's shapes: 32 query heads, 32 or 8 KV
heads, d=128, bf16, one sequence of L = 8K / 32K / 128K. The peer of `bitcap check --prefill-bench`, same machine,
same call. Prints one line per shape: ms (median of CUDA-event timings) and causal TFLOP/s."""
import sys, torch
import torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend

def bench(fn, warm=2, rep=10):
    for _ in range(warm): fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(rep):
        s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
        s.record(); fn(); e.record(); torch.cuda.synchronize(); ts.append(s.elapsed_time(e))
    ts.sort(); return ts[len(ts) // 2]

print("torch", torch.__version__, torch.cuda.get_device_name())
lengths = [int(x) for x in sys.argv[1:]] or [8192, 32768, 131072]
for kv in (32, 8):
    for L in lengths:
        q = torch.randn(1, 32, L, 128, device="cuda", dtype=torch.bfloat16)
        k = torch.randn(1, kv, L, 128, device="cuda", dtype=torch.bfloat16); v = torch.randn_like(k)
        rep = 3 if L >= 65536 else 10
        for name, be in [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]:
            try:
                with sdpa_kernel(be):
                    ms = bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=(kv != 32)), rep=rep)
                tf = 4 * 32 * 128 * L * L / 2 / ms / 1e9
                print(f"peer {name:6s} L={L:7d} heads=32/{kv:<2d} {ms:10.3f} ms {tf:7.1f} TFLOP/s", flush=True)
            except Exception as ex:
                print(f"peer {name:6s} L={L:7d} heads=32/{kv:<2d} failed: {str(ex)[:100]}", flush=True)
        del q, k, v
        torch.cuda.empty_cache()
