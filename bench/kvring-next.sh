#!/usr/bin/env bash
# The folded KV decode kernels with their cp.async ring and one-wave split grid (session of 2026-12-02 afternoon):
# every KV check row and the decode-attention bench beside the PyTorch SDPA peer, then llama-3.1-8b int4 decode end
# to end: the GEMV shapes of gemv_staged_1 (BITCAP_GEMV_VARIANT=staged:R:B) and int4 KV at 32K / 128K.
# Carry [".devcarry/common", ".devcarry/final"]; logs under $OUT.
L=$OUT/run.log
. bench/device-common.sh
kv_bench ${KV_S:-230}
kv_peer
synth_l8b
B="bench --device cuda --model /tmp/l8b --prompt-len 16 --gen 64 --repeat 2"
for v in staged staged:4:3 staged:2:4 staged:2:3 staged:1:4; do
  step "e2e $v"
  echo "-- gemv $v" >> $L
  BITCAP_GEMV_VARIANT=$v timeout 60 $J $B 2>&1 | grep -E "decode tokens|time per output|bitcap:|rror" >> $L
done
for fill in 32K 128K; do
  for kv in fp16 int4 int2; do
    step "e2e kv $kv fill $fill"
    echo "-- kv $kv fill $fill" >> $L
    timeout 60 $J bench --device cuda --model /tmp/l8b --kv $kv --kv-group 128 --kv-fill $fill --gen 32 --repeat 1 2>&1 \
      | grep -E "decode tokens|time per output|kv bytes|bitcap:|rror" >> $L
  done
done
step done
cat $L
