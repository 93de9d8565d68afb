#!/usr/bin/env bash
# Part B of bench/seerdecode-device.sh (the call right after it, same carry, run as .devcarry/seerdec/run-b.sh): synthetic
# llama-3.1-8b int4-asym g128 and a one-step gate for it (random-ish: it fixes the cost, not the quality), then decode
# at a 128K cache filled in place (--kv-fill) per KV format, dense and SeerAttention-R at density 0.1; int2 at 1M.
# Log: $OUT/seerdec-b.log.
T0=$(date +%s)
C=.devcarry/seerdec; D=.devcarry/common/data
L=$OUT/seerdec-b.log
step() { echo "== $1 at $(( $(date +%s) - T0 )) s" | tee -a $L; }
[ -x /tmp/.jre/bin/java ] || tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $C/bitcap.jar"
export BITCAP_CACHE=/tmp/bitcap-cache
step "8B synth + gate"
timeout 60 $J synth --preset llama-3.1-8b --quant int4-asym --group 128 --out /tmp/l8b >> $L 2>&1; echo "synth rc $?" >> $L
timeout 90 $J train-gate --model /tmp/l8b --text $D/text/shakespeare-head.txt --block 64 --gate-dim 128 --steps 1 --ctx 256 --batch 1 --max-windows 1 --out /tmp/l8b-gate.safetensors 2>&1 | tail -1 >> $L
B="bench --device cuda --model /tmp/l8b --gen 32 --repeat 1 --kv-group 128"
G="--attention seer --gate /tmp/l8b-gate.safetensors"
for kv in fp16 int4 int2; do
  step "8B 128K $kv dense"; echo "-- $kv dense 128K" >> $L
  timeout 60 $J $B --kv $kv --kv-fill 131072 2>&1 | grep -E "decode tokens|kv|memory|Error|error" >> $L
  step "8B 128K $kv seer 0.1"; echo "-- $kv seer 0.1 128K" >> $L
  timeout 60 $J $B --kv $kv --kv-fill 131072 $G --density 0.1 2>&1 | grep -E "decode tokens|kv|memory|attention|Error|error" >> $L
done
step "8B 1M int2"; echo "-- int2 dense 1M" >> $L
timeout 80 $J $B --kv int2 --kv-fill 1M 2>&1 | grep -E "decode tokens|kv|Error|error" >> $L
echo "-- int2 seer 0.1 1M" >> $L
timeout 80 $J $B --kv int2 --kv-fill 1M $G --density 0.1 2>&1 | grep -E "decode tokens|kv|Error|error" >> $L
step "issue 7 on one GPU: tp 2 / ep 2 rank forwards sharing GPU 0 against one GPU (lowest priority)"
timeout 110 $J check --device cuda --parallel --data $D 2>&1 | grep -v WARNING | grep -E "checks,|FAIL|pass" | tail -40 >> $L; echo "parallel rc ${PIPESTATUS[0]}" >> $L
step done
cat $L
