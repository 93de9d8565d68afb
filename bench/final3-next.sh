#!/usr/bin/env bash
# Last device call of the 2026-12-02 afternoon session, on one H200: the full `bitcap check --device cuda` (every
# row, including the greedy pick, the KV ring kernels and the review refactors), then int4 KV at 128K with the default
# and the transposed decode kernel (BITCAP_KV_DECODE), issue 5's longest context per KV format (dense decode at
# `--kv-fill max`), and the 8B int4 decode twice (first and second start), in that order of priority. Carry [".devcarry/common", ".devcarry/final"]; logs under $OUT.
L=$OUT/run.log
. bench/device-common.sh
full_check ${CHECK_S:-330}
step synth
timeout 60 $J synth --preset llama-3.1-8b --quant int4-asym --group 128 --out /tmp/l8b > /dev/null 2>&1
for k in folded folded-t; do
  step "int4 128K, kernel $k"; echo "-- int4 128K $k" >> $L
  BITCAP_KV_DECODE=$k timeout 60 $J bench --device cuda --model /tmp/l8b --kv int4 --kv-group 128 --kv-fill 128K --gen 32 --repeat 1 2>&1 \
    | grep -E "decode tokens|time per output|bitcap:|rror" >> $L
done
step capacity
timeout 60 $J bench --device cuda --model /tmp/l8b --kv-group 128 --kv-capacity 2>&1 | grep -v WARNING >> $L
step "int2 at its longest context"; echo "-- int2 dense max" >> $L
timeout 75 $J bench --device cuda --model /tmp/l8b --gen 8 --repeat 1 --kv-group 128 --kv-fill max --kv int2 2>&1 \
  | grep -E "kv fill|decode tokens|time per output|kv bytes|bitcap:|rror" >> $L
B="bench --device cuda --model /tmp/l8b --prompt-len 16 --gen 64 --repeat 2"
for run in first second; do
  step "e2e 8B int4 ($run start)"; echo "-- $run start" >> $L
  timeout 60 $J $B 2>&1 | grep -E "decode tokens|time per output|ttft|first token|kernel modules|kernel compile|bitcap:|rror" >> $L
done
for kv in int4 fp16; do
  step "$kv at its longest context"; echo "-- $kv dense max" >> $L
  timeout 75 $J bench --device cuda --model /tmp/l8b --gen 8 --repeat 1 --kv-group 128 --kv-fill max --kv $kv 2>&1 \
    | grep -E "kv fill|decode tokens|time per output|kv bytes|bitcap:|rror" >> $L
done
step done
cat $L
