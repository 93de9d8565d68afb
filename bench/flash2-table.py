"""Puts the prefill bench rows of `bitcap check --prefill-bench` beside the torch peer of the same device call
(bench/seergpu_peer.py lines) and prints, per KV-head count and length, each variant's ms and TFLOP/s with
x flash (torch flash ms / ours: above 1 we are faster) and x default (the measured default at the same density:
"dense" for dense rows, "seer" for seer rows). Usage: python3 bench/flash2-table.py LOG [LOG...]."""
import re, sys

peer, rows = {}, []
for path in sys.argv[1:]:
    for line in open(path, errors="replace"):
        m = re.match(r"peer (\w+)\s+L=\s*(\d+) heads=32/(\d+)\s+([\d.]+) ms", line)
        if m:
            peer[(m[1], int(m[3]), int(m[2]))] = float(m[4])
            continue
        m = re.match(r"((?:dense|seer)\S*)\s+(\d+)\s+(\d+)/(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$", line)
        if m:
            rows.append(dict(name=m[1], L=int(m[2]), kv=int(m[4]), density=float(m[5]), ms=float(m[6]), tflops=float(m[7]),
                             reached=float(m[8]), gate=float(m[9])))
if not rows:
    sys.exit("no bench rows found")
default = {(r["kv"], r["L"], r["density"], r["name"].split("/")[0]): r["ms"] for r in rows if r["name"] in ("dense", "seer")}
print(f"{'kv':>3} {'L':>7} {'variant':<20} {'density':>7} {'ms':>10} {'TFLOP/s':>8} {'x flash':>8} {'x cuDNN':>8} {'x default':>9} {'gate ms':>8}")
for r in sorted(rows, key=lambda r: (-r["kv"], r["L"], r["name"].startswith("seer"), -r["density"], r["name"])):
    flash, cudnn = peer.get(("flash", r["kv"], r["L"])), peer.get(("cudnn", r["kv"], r["L"]))
    base = default.get((r["kv"], r["L"], r["density"], r["name"].split("/")[0]))
    fmt = lambda x: f"{x:8.2f}" if x else f"{'-':>8}"
    print(f"{r['kv']:>3} {r['L']:>7} {r['name']:<20} {r['density']:>7.2f} {r['ms']:>10.3f} {r['tflops']:>8.1f} {fmt(flash and flash / r['ms'])} "
          f"{fmt(cudnn and cudnn / r['ms'])} {fmt(base and base / r['ms']):>9} {r['gate']:>8.3f}")
