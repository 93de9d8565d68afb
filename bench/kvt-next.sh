#!/usr/bin/env bash
# Whether the transposed KV decode kernel (FOLDED_T) becomes the default: every KV check row, the decode-attention
# bench (its note times FOLDED_T beside FOLDED) with the PyTorch SDPA peer in the same call, then llama-3.1-8b int4
# decode end to end with each kernel at 32K and 128K. Carry [".devcarry/common", ".devcarry/final", ".devcarry/kcache"];
# logs under $OUT.
L=$OUT/run.log
. bench/device-common.sh
kv_bench ${KV_S:-200}
kv_peer
synth_l8b
for fill in 32K 128K; do
  for kv in int4 int2; do
    for k in folded folded-t; do
      step "e2e kv $kv fill $fill kernel $k"
      echo "-- kv $kv fill $fill kernel $k" >> $L
      BITCAP_KV_DECODE=$k timeout 60 $J bench --device cuda --model /tmp/l8b --kv $kv --kv-group 128 --kv-fill $fill --gen 32 --repeat 1 2>&1 \
        | grep -E "decode tokens|time per output|bitcap:|rror" >> $L
    done
  done
done
step done
cat $L
