#!/usr/bin/env python3
"""Logit error of each KV cache format against the f32 cache on the Hugging Face fixtures.

Runs `bitcap logits --json` on 200 fixed token ids per fixture (the fixtures' own inputs, 24 and 7 tokens, are
shorter than every group size, so they never leave the fp32 residual block and their error is zero) and prints a
Markdown table of the max abs logit difference and the mean KL(f32 || format) over all positions.
Usage: scripts/kv-logit-error.py [SHARED_DATA_DIR]
"""
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

DATA = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
FIXTURES = ["tiny-llama", "tiny-mixtral", "tiny-qwen2moe", "tiny-qwen3moe"]
ROWS = [("fp16", None, None)] + [(kv, key, g) for kv in ("int4", "int2") for key in ("channel", "token") for g in (32, 64, 128)]
TOKENS = 200


def logits(model, ids, kv, key, group):
    cmd = ["./bitcap", "logits", "--model", str(model), "--ids", ",".join(map(str, ids)), "--json", "--kv", kv]
    if key:
        cmd += ["--kv-key", key, "--kv-group", str(group)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return np.array(json.loads(out)["logits"], dtype=np.float64)


def log_softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def main():
    print("| fixture | head dim | KV format | max abs logit error | mean KL (nats) |")
    print("|---|---|---|---|---|")
    for name in FIXTURES:
        model = DATA / "hf-fixtures" / name
        cfg = json.loads((model / "config.json").read_text())
        head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        rnd = random.Random(name)
        ids = [rnd.randrange(cfg["vocab_size"]) for _ in range(TOKENS)]
        ref = logits(model, ids, "f32", None, None)
        lp_ref = log_softmax(ref)
        for kv, key, g in ROWS:
            got = logits(model, ids, kv, key, g)
            kl = (np.exp(lp_ref) * (lp_ref - log_softmax(got))).sum(axis=1).mean()
            label = kv if key is None else f"{kv} g{g} keys per {key}"
            print(f"| {name} | {head_dim} | {label} | {np.abs(got - ref).max():.3e} | {kl:.3e} |", flush=True)


if __name__ == "__main__":
    main()
