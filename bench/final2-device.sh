#!/usr/bin/env bash
# Second integrated run (2026-12-02, main after the decodestep and kvscale branches), in order of priority, each step
# capped: every check row; llama-3.1-8b int4 end to end (decode step); decode over a cache filled through the pack
# kernel (32K per format, 1M int2); qwen1.5-moe-a2.7b int4 with host vs device MoE routing and its CAP run; the
# paged-KV decode bench with its SDPA peer. Carry .devcarry/common + .devcarry/final (the jar); logs to $OUT.
T0=$(date +%s)
step() { echo "== $1 at $(( $(date +%s) - T0 )) s" | tee -a $OUT/steps.log; }
F=.devcarry/final; D=.devcarry/common/data
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $F/bitcap.jar"
export BITCAP_CACHE=/tmp/bitcap-cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader > $OUT/gpu.txt 2>&1
step check; timeout 190 $J check --device cuda --data $D > $OUT/check.log 2>&1; echo "check rc $?" >> $OUT/steps.log
grep -E "checks,|FAIL" $OUT/check.log | head -20
step synth8b; timeout 40 $J synth --preset llama-3.1-8b --quant int4-asym --group 128 --out /tmp/l8b-int4 > $OUT/synth8b.log 2>&1
step bench8b; timeout 35 $J bench --device cuda --model /tmp/l8b-int4 --prompt-len 2048 --gen 64 --repeat 2 > $OUT/bench8b.log 2>&1; echo "bench8b rc $?" >> $OUT/steps.log
grep -E "prefill tokens|decode tokens" $OUT/bench8b.log
step kvfill
B="bench --device cuda --model /tmp/l8b-int4 --kv-group 128 --json"
for kv in int4 int2 fp16; do timeout 25 $J $B --kv $kv --kv-fill 32K --gen 32 --repeat 1 > $OUT/fill32k-$kv.json 2>&1; echo "fill32k $kv rc $?" >> $OUT/steps.log; done
timeout 45 $J $B --kv int2 --kv-fill 1M --gen 16 --repeat 1 > $OUT/fill1m-int2.json 2>&1; echo "fill1m int2 rc $?" >> $OUT/steps.log
timeout 15 $J $B --kv-capacity > $OUT/capacity.json 2>$OUT/capacity.err
step qwen; timeout 40 $J synth --preset qwen1.5-moe-a2.7b --quant int4-asym --group 128 --out /tmp/q-int4 > $OUT/synth-qwen.log 2>&1; echo "synth qwen rc $?" >> $OUT/steps.log
for r in host device; do
  BITCAP_MOE_ROUTING=$r timeout 25 $J bench --device cuda --model /tmp/q-int4 --prompt-len 512 --gen 64 --repeat 2 > $OUT/bench-qwen-$r.log 2>&1; echo "bench qwen $r rc $?" >> $OUT/steps.log
done
h=$(awk '/decode tokens per s/ {print $NF}' $OUT/bench-qwen-host.log); d=$(awk '/decode tokens per s/ {print $NF}' $OUT/bench-qwen-device.log)
R=host; python3 -c "import sys; sys.exit(0 if float('${d:-0}') > float('${h:-0}') else 1)" && R=device
step "cap-qwen-$R"; BITCAP_MOE_ROUTING=$R timeout 60 $J cap --config bench/moegpu-cap-h200.json --model /tmp/q-int4 --out /tmp/cap-qwen > $OUT/cap-qwen.log 2>&1; echo "cap qwen rc $?" >> $OUT/steps.log
cp /tmp/cap-qwen/results.json $OUT/cap-qwen.json 2>/dev/null; cp /tmp/cap-qwen/results.csv $OUT/cap-qwen.csv 2>/dev/null
step kvbench; timeout 60 $J check --device cuda --data $D --kv-only --kv-bench > $OUT/kvbench.log 2>&1; echo "kvbench rc $?" >> $OUT/steps.log
step kvpeer; PYTHONUNBUFFERED=1 timeout 25 python3 bench/kv_peer.py 2>/dev/null > $OUT/kvpeer.log; echo "kvpeer rc $?" >> $OUT/steps.log
step done
cat $OUT/steps.log
