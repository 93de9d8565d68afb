#!/usr/bin/env bash
# Integrated run of merged main (2026-12-02): every check row, the KV decode bench (+ folded kernel) with its SDPA
# peer, SeerAttention through the backend (CPU vs CUDA perplexity), llama-3.1-8b int4 end to end, GPU probes.
T0=$(date +%s)
step() { echo "== $1 at $(( $(date +%s) - T0 )) s" | tee -a $OUT/steps.log; }
F=.devcarry/final; D=.devcarry/common/data
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $F/bitcap.jar"
export BITCAP_CACHE=/tmp/bitcap-cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader > $OUT/gpu.txt 2>&1
step check; timeout 230 $J check --device cuda --data $D > $OUT/check.log 2>&1; echo "check rc $?" >> $OUT/steps.log
step kvbench; timeout 70 $J check --device cuda --data $D --kv-only --kv-folded --kv-bench > $OUT/kvbench.log 2>&1; echo "kvbench rc $?" >> $OUT/steps.log
step kvpeer; PYTHONUNBUFFERED=1 timeout 40 python3 bench/kv_peer.py > $OUT/kvpeer.log 2>&1; echo "kvpeer rc $?" >> $OUT/steps.log
step seer
timeout 30 $J synth --config bench/seergpu-synth-config.json --out /tmp/seer-synth --dtype f32 > $OUT/seer-synth.log 2>&1
P="perplexity --model /tmp/seer-synth --text $F/seer-text.txt --ctx 2048 --max-windows 2 --json"
G="--attention seer --gate $F/seer-gate.safetensors"
for args in "--device cuda" "--device cpu $G --density 0.3" "--device cuda $G --density 0.3" "--device cuda $G --threshold 0.05"; do
  echo "$args: $(timeout 15 $J $P $args 2>&1 | grep -v WARNING | tail -1)" >> $OUT/seer.log
done
step synth8b; timeout 45 $J synth --preset llama-3.1-8b --quant int4-asym --group 128 --out /tmp/l8b-int4 > $OUT/synth8b.log 2>&1; echo "synth rc $?" >> $OUT/steps.log
step bench8b; timeout 50 $J bench --device cuda --model /tmp/l8b-int4 --prompt-len 2048 --gen 64 --repeat 2 > $OUT/bench8b.log 2>&1; echo "bench8b rc $?" >> $OUT/steps.log
step hw; timeout 30 $J hw --device cuda --out $OUT/hw.json > $OUT/hw.log 2>&1; echo "hw rc $?" >> $OUT/steps.log
step done
cat $OUT/steps.log; grep -E "checks,|FAIL" $OUT/check.log | head -30; grep -E "checks,|FAIL|MISMATCH" $OUT/kvbench.log | head; cat $OUT/seer.log; tail -4 $OUT/bench8b.log
