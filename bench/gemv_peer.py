"""fp16 GEMV peer (cuBLAS through torch F.linear) timed two ways, the same two ways GemvBench times bitcap's kernels:
back to back (20 launches between two events, the median over 30 batches, per launch) and single launches between
two events (as bench/torch_peers.py does; this adds Python's launch gap). Eight weight copies in rotation defeat L2."""
import json, os, torch
import torch.nn.functional as F

dev = torch.device("cuda")
def timed(fn, reps, batch):
    for _ in range(5): fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(batch): fn()
        e.record(); torch.cuda.synchronize(); ts.append(s.elapsed_time(e) / batch)
    ts.sort(); return ts[len(ts) // 2]

a = torch.empty(1 << 28, device=dev); b = torch.empty_like(a)
ms = timed(lambda: b.copy_(a), 20, 1); copy = 2 * a.numel() * 4 / ms / 1e6  # GB/s
print(f"copy 1 GiB: {copy:.0f} GB/s"); del a, b
res = {"copy_GBps": copy}
for (k, nn) in [(4096, 14336), (14336, 4096), (4096, 4096)]:
    Ws = [torch.randn(nn, k, device=dev, dtype=torch.float16) for _ in range(8)]
    for rows in (1, 4, 16):
        x = torch.randn(rows, k, device=dev, dtype=torch.float16)
        it = [0]
        def f():
            it[0] = (it[0] + 1) % 8; return F.linear(x, Ws[it[0]])
        b2b = timed(f, 30, 20); single = timed(f, 100, 1)
        gbs = (nn * k + rows * (k + nn)) * 2 / b2b / 1e6
        res[f"{k}x{nn}_n{rows}"] = {"b2b_us": b2b * 1e3, "single_us": single * 1e3, "GBps": gbs}
        print(f"torch fp16 gemv 1x{k}·{k}x{nn} n={rows}: back to back {b2b*1e3:.1f} us ({gbs:.0f} GB/s, {gbs/copy*100:.0f}% of copy), single {single*1e3:.1f} us")
    del Ws
json.dump(res, open(os.path.join(os.environ.get("OUT", "."), "gemv-peer.json"), "w"), indent=1)
