#!/usr/bin/env bash
# Stacked q/k/v and gate/up GEMVs (BITCAP_FUSE) with programmatic launch: the whole GPU check, the KV decode bench with
# the PyTorch SDPA peer in the same call, llama-3.1-8b int4 decode with fusing on and off (PDL on and off), int4 / int2 /
# fp16 KV at 32K and 128K, and the longest int2 / int4 contexts at full pool. Carry [".devcarry/common",
# ".devcarry/final", ".devcarry/kcache"]; logs under $OUT.
L=$OUT/run.log
. bench/device-common.sh
full_check ${CHECK_S:-200}
kv_bench ${KV_S:-100}
kv_peer
synth_l8b
B="bench --device cuda --model /tmp/l8b --prompt-len 16 --gen 64 --repeat 2"
for v in "1 1" "0 1" "1 0" "0 0" "1 1" "0 1"; do
  set -- $v
  step "e2e short fuse $1 pdl $2"; echo "-- prompt 16, BITCAP_FUSE=$1 BITCAP_PDL=$2" >> $L
  BITCAP_FUSE=$1 BITCAP_PDL=$2 timeout 60 $J $B 2>&1 | grep -E "decode tokens|time per output|bitcap:|rror" >> $L
done
step "e2e prompt 2048"; echo "-- prompt 2048" >> $L
timeout 60 $J bench --device cuda --model /tmp/l8b --prompt-len 2048 --gen 64 --repeat 2 2>&1 | grep -E "prefill tokens|decode tokens|ttft|process start|bitcap:|rror" >> $L
for fill in 32K 128K; do
  for kv in fp16 int4 int2; do
    step "e2e kv $kv fill $fill"; echo "-- kv $kv fill $fill" >> $L
    timeout 60 $J bench --device cuda --model /tmp/l8b --kv $kv --kv-group 128 --kv-fill $fill --gen 32 --repeat 1 2>&1 \
      | grep -E "decode tokens|time per output|kv bytes|bitcap:|rror" >> $L
  done
done
step capacity
timeout 60 $J bench --device cuda --model /tmp/l8b --kv-group 128 --kv-capacity 2>&1 | grep -v WARNING >> $L
for kv in int2 int4; do
  step "$kv longest"; echo "-- $kv at its longest context (pool 135000 MB)" >> $L
  timeout ${MAX_S:-90} $J bench --device cuda --model /tmp/l8b --gen 16 --repeat 1 --kv-group 128 --kv-fill max --kv-pool-mb 135000 --kv $kv 2>&1 \
    | grep -E "fill|decode tokens|kv bytes|bitcap:" >> $L
done
step done
cat $L
