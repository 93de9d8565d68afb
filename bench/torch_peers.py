"""Peer baselines (copied from ../shared/tools/torch_peers.py; `python3 torch_peers.py gemv` runs only the GEMV rows) on a CUDA GPU, measured with PyTorch (cuBLAS, FlashAttention, cuDNN attention): the figures the Java/CUDA kernels are compared with, side by side in the same run."""
import torch, time, json, math, os
import torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend

def bench(fn, warm=5, rep=30):
    for _ in range(warm): fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(rep):
        s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
        s.record(); fn(); e.record(); torch.cuda.synchronize(); ts.append(s.elapsed_time(e))
    ts.sort(); return ts[len(ts)//2]  # ms median

import sys
# "gemv": only the copy bandwidth and the fp16 GEMV peers (batch 1, 4, 16), the rows GemvBench prints on the Java side.
only_gemv = len(sys.argv) > 1 and sys.argv[1] == "gemv"
res = {}
dev = torch.device("cuda")
print(torch.cuda.get_device_name(), torch.cuda.get_device_properties(0).multi_processor_count, "SMs")
# 1. HBM copy bandwidth (read+write)
n = 1 << 30  # 1 Gi elements of fp32 = 4 GiB
a = torch.randn(n // 4, device=dev); b = torch.empty_like(a)
ms = bench(lambda: b.copy_(a)); bw = 2 * a.numel() * 4 / ms / 1e9
res["copy_TBps"] = bw; print(f"copy {bw:.2f} TB/s"); del a, b
if only_gemv:
    for (k, nn) in [(4096, 14336), (14336, 4096), (4096, 4096)]:
        Ws = [torch.randn(nn, k, device=dev, dtype=torch.float16) for _ in range(8)]
        for rows in (1, 4, 16):
            x = torch.randn(rows, k, device=dev, dtype=torch.float16)
            it = [0]
            def f():
                it[0] = (it[0] + 1) % 8; return F.linear(x, Ws[it[0]])
            ms = bench(f, rep=200); gbs = (nn * k + rows * (k + nn)) * 2 / ms / 1e6
            res[f"gemv_fp16_{k}x{nn}_n{rows}"] = (ms * 1e3, gbs)
            print(f"torch fp16 gemv 1x{k}·{k}x{nn} n={rows}: {ms*1e3:.1f} us, {gbs:.0f} GB/s, {gbs / (bw * 1e3) * 100:.0f}% of copy")
        del Ws
    os.makedirs(os.environ.get("OUT", "."), exist_ok=True)
    json.dump(res, open(os.path.join(os.environ.get("OUT", "."), "peers-gemv.json"), "w"), indent=1)
    sys.exit(0)
# 2. bf16 GEMM
m = 8192; A = torch.randn(m, m, device=dev, dtype=torch.bfloat16); B = torch.randn(m, m, device=dev, dtype=torch.bfloat16)
ms = bench(lambda: A @ B, rep=20); tf = 2 * m**3 / ms / 1e9
res["gemm_bf16_TFLOPs"] = tf; print(f"gemm bf16 {tf:.0f} TFLOP/s"); del A, B
# 3. fp16 GEMV, Llama-8B shapes, several weight sets to defeat L2
for (k, nn) in [(4096, 14336), (14336, 4096), (4096, 4096)]:
    Ws = [torch.randn(nn, k, device=dev, dtype=torch.float16) for _ in range(8)]
    x = torch.randn(1, k, device=dev, dtype=torch.float16)
    it = [0]
    def f():
        it[0] = (it[0] + 1) % 8; return F.linear(x, Ws[it[0]])
    ms = bench(f, rep=80); gbs = nn * k * 2 / ms / 1e6
    res[f"gemv_fp16_{k}x{nn}_GBps"] = gbs; print(f"gemv fp16 {k}x{nn}: {ms*1e3:.1f} us, {gbs:.0f} GB/s")
    del Ws
# 4. fp16 decode attention (FlashDecoding-style peer): Llama-3.1-8B heads 32q/8kv, d=128
for B in (1, 8):
    for L in (4096, 32768, 131072):
        if B * L > 8 * 131072 // 2 and B == 8 and L == 131072: pass
        q = torch.randn(B, 32, 1, 128, device=dev, dtype=torch.float16)
        k = torch.randn(B, 8, L, 128, device=dev, dtype=torch.float16); v = torch.randn_like(k)
        out = {}
        for name, be in [("flash", SDPBackend.FLASH_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]:
            try:
                with sdpa_kernel(be):
                    ms = bench(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True))
                gbs = 2 * B * 8 * L * 128 * 2 / ms / 1e6
                out[name] = (ms * 1e3, gbs)
            except Exception as ex:
                out[name] = str(ex)[:60]
        res[f"decode_fp16_B{B}_L{L}"] = out; print(f"decode fp16 B={B} L={L}: ", {kk: (f"{vv[0]:.1f}us {vv[1]:.0f}GB/s" if isinstance(vv, tuple) else vv) for kk, vv in out.items()})
        del q, k, v
# 5. prefill causal attention, 32 heads d=128 (SeerAttention's dense peer)
for L in (8192, 32768):
    q = torch.randn(1, 32, L, 128, device=dev, dtype=torch.bfloat16); k = torch.randn_like(q); v = torch.randn_like(q)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        ms = bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), rep=10)
    tf = 4 * 32 * L * L * 128 / 2 / ms / 1e9
    res[f"prefill_bf16_causal_L{L}"] = (ms, tf); print(f"prefill causal L={L}: {ms:.2f} ms, {tf:.0f} TFLOP/s")
    del q, k, v
os.makedirs(os.environ.get("OUT", "."), exist_ok=True)
json.dump(res, open(os.path.join(os.environ.get("OUT", "."), "peers.json"), "w"), indent=1)
