#!/usr/bin/env bash
# Issue 5's "decode tokens/s at the longest context each KV format reaches" on one H200, one call (not yet run as
# such; its dense part ran in bench/final3-next.sh without --kv-pool-mb, so the pool was the default half of the free
# memory and the fills half the capacity):
# synthetic llama-3.1-8b int4-asym g128, then per format `bench --kv-capacity` (the longest context the free memory
# gives) and `bench --kv K --kv-fill max --gen 16` (a cache filled in place to that length, decode timed there), dense
# and SeerAttention-R at density 0.1 (gate trained one step, for the cost only). Carry [".devcarry/common",
# ".devcarry/final"] (.devcarry/final: bitcap.jar); run `bash bench/kvmax-next.sh`. One log: $OUT/kvmax.log.
L=$OUT/kvmax.log
. bench/device-common.sh
step synth
timeout 60 $J synth --preset llama-3.1-8b --quant int4-asym --group 128 --out /tmp/l8b > /dev/null 2>&1; echo "synth rc $?" >> $L
timeout 90 $J train-gate --model /tmp/l8b --text $D/text/shakespeare-head.txt --block 64 --gate-dim 128 --steps 1 --ctx 256 --batch 1 \
    --max-windows 1 --out /tmp/l8b-gate.safetensors 2>&1 | tail -1 >> $L
step capacity
timeout 60 $J bench --device cuda --model /tmp/l8b --kv-group 128 --kv-capacity 2>&1 | grep -v WARNING >> $L
# the pool as large as the capacity figures assume (the default is half the free memory)
B="bench --device cuda --model /tmp/l8b --gen 16 --repeat 1 --kv-group 128 --kv-fill max --kv-pool-mb 135000"
for kv in fp16 int4 int2; do
  step "$kv at its longest context, dense"; echo "-- $kv dense max" >> $L
  timeout 120 $J $B --kv $kv 2>&1 | grep -E "kv fill positions|decode tokens|kv bytes|bitcap:" >> $L
  step "$kv at its longest context, seer 0.1"; echo "-- $kv seer 0.1 max" >> $L
  timeout 120 $J $B --kv $kv --attention seer --gate /tmp/l8b-gate.safetensors --density 0.1 2>&1 | grep -E "kv fill positions|decode tokens|bitcap:" >> $L
done
step done
cat $L
