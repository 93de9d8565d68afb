#!/usr/bin/env bash
# kvscale device run (copied to .devcarry/kvscale/run.sh; run with carry [".devcarry/common", ".devcarry/kvscale"]):
# the paged KV check rows (every decode kernel: folded = default, folded-32, per-element) and the decode-attention
# bench with its SDPA peer, then llama-3.1-8b int4 weights: the longest context per format (--kv-capacity),
# decode at a filled 32K context per format (compare with the prompt-based 132.8 / 115.9 / 110.4 tok/s of the
# final run: the per-layer host syncs are gone), int4 at 128K, int2 at 1M, and int4 / int2 filled to their limit.
# Step caps add up to 530 s (one run call of at most 600 s).
T0=$(date +%s)
step() { echo "== $1 at $(( $(date +%s) - T0 )) s" | tee -a $OUT/steps.log; }
C=.devcarry/kvscale
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $C/bitcap.jar"
export BITCAP_CACHE=/tmp/bitcap-cache
M=/tmp/l8b-int4
B="bench --device cuda --model $M --kv-group 128 --json"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader > $OUT/gpu.txt 2>&1
step kvcheck; timeout 100 $J check --device cuda --data .devcarry/common/data --kv-only --kv-bench > $OUT/kvcheck.log 2>&1; echo "kvcheck rc $?" >> $OUT/steps.log
step kvpeer; PYTHONUNBUFFERED=1 timeout 40 python3 bench/kv_peer.py > $OUT/kvpeer.log 2>&1; echo "kvpeer rc $?" >> $OUT/steps.log
step synth8b; timeout 45 $J synth --preset llama-3.1-8b --quant int4-asym --group 128 --out $M > $OUT/synth8b.log 2>&1; echo "synth rc $?" >> $OUT/steps.log
step capacity; timeout 25 $J $B --kv-capacity > $OUT/capacity.json 2>$OUT/capacity.err; echo "capacity rc $?" >> $OUT/steps.log
for kv in fp16 int4 int2; do
  step "fill32k-$kv"; timeout 30 $J $B --kv $kv --kv-fill 32K --gen 32 --repeat 1 > $OUT/fill32k-$kv.json 2>&1; echo "fill32k $kv rc $?" >> $OUT/steps.log
done
step fill128k-int4; timeout 40 $J $B --kv int4 --kv-fill 128K --gen 32 --repeat 1 > $OUT/fill128k-int4.json 2>&1; echo "fill128k int4 rc $?" >> $OUT/steps.log
step fill1m-int2; timeout 50 $J $B --kv int2 --kv-fill 1M --gen 16 --repeat 1 > $OUT/fill1m-int2.json 2>&1; echo "fill1m int2 rc $?" >> $OUT/steps.log
for kv in int4 int2; do
  POOL=$(python3 -c "import json; print(json.load(open('$OUT/capacity.json'))['kv_${kv}_pool_mb'])" 2>/dev/null)
  step "fillmax-$kv pool ${POOL} MiB"
  timeout 70 $J $B --kv $kv --kv-pool-mb ${POOL:-1} --kv-fill max --gen 8 --repeat 1 > $OUT/fillmax-$kv.json 2>&1; echo "fillmax $kv rc $?" >> $OUT/steps.log
done
step done
cat $OUT/steps.log; grep -E "checks,|FAIL" $OUT/kvcheck.log | head -20; grep -E "h32/8 d128 B(1 |32) L(32768|131072)" $OUT/kvcheck.log
cat $OUT/capacity.json; grep -hE "kv_fill_positions\"|decode_tokens_per_s\"|kv_cache\"|time_per_output" $OUT/fill*.json
