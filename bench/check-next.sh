#!/usr/bin/env bash
# First call of the next session: the whole `bitcap check --device cuda` with room to finish on a fresh machine (the
# 2026-12-02 afternoon call stopped at 330 s, 651 rows in, all passing: NVRTC compiled the modules for most of it),
# alone in one call (the KV bench with the transposed kernel, `check --kv-only --kv-bench` and `bench/kv_peer.py`, in the next). Carry [".devcarry/common",
# ".devcarry/final"]; logs under $OUT.
L=$OUT/run.log
. bench/device-common.sh
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader >> $L
step "full check"
timeout ${CHECK_S:-560} $J check --device cuda --data $D > $OUT/full-check.log 2>&1; echo "check rc $?" >> $L
grep -E "checks,|FAIL|rror" $OUT/full-check.log | head -30 >> $L
step done
cat $L
