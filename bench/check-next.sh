#!/usr/bin/env bash
# First call of the next session: the whole `bitcap check --device cuda` with room to finish on a fresh machine (the
# 2026-12-02 afternoon call stopped at 330 s, 651 rows in, all passing: NVRTC compiled the modules for most of it),
# alone in one call (the KV bench with the transposed kernel, `check --kv-only --kv-bench` and `bench/kv_peer.py`, in the next). Carry [".devcarry/common",
# ".devcarry/final"]; logs under $OUT.
L=$OUT/run.log
. bench/device-common.sh
full_check ${CHECK_S:-560}
step done
cat $L
