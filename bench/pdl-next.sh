#!/usr/bin/env bash
# Programmatic dependent launch (BITCAP_PDL) and the split-parallel kv_combine: the whole GPU check (its new rows decode
# with PDL on and off against the CPU), the KV decode bench, then llama-3.1-8b int4 decode with PDL on and off in the
# same call, at a 16-token prompt and with int4 KV at 32K / 128K. Carry [".devcarry/common", ".devcarry/final",
# ".devcarry/kcache"]; logs under $OUT.
L=$OUT/run.log
. bench/device-common.sh
full_check ${CHECK_S:-420}
kv_bench ${KV_S:-120}
synth_l8b
for pdl in 1 0 1 0; do
  step "e2e short pdl $pdl"
  echo "-- prompt 16, BITCAP_PDL=$pdl" >> $L
  BITCAP_PDL=$pdl timeout 60 $J bench --device cuda --model /tmp/l8b --prompt-len 16 --gen 64 --repeat 2 2>&1 | grep -E "decode tokens|time per output|bitcap:|rror" >> $L
done
for fill in 32K 128K; do
  for pdl in 1 0; do
    step "e2e kv int4 fill $fill pdl $pdl"
    echo "-- kv int4 fill $fill, BITCAP_PDL=$pdl" >> $L
    BITCAP_PDL=$pdl timeout 60 $J bench --device cuda --model /tmp/l8b --kv int4 --kv-group 128 --kv-fill $fill --gen 32 --repeat 1 2>&1 \
      | grep -E "decode tokens|time per output|bitcap:|rror" >> $L
  done
done
step done
cat $L
