#!/usr/bin/env bash
# SeerAttention-R decode, second run (after the decode gate was split into query / scores / select kernels and the
# gate's key cache learned to grow): carry [".devcarry/common", ".devcarry/seerdec"], run .devcarry/seerdec/run-c.sh.
# One log: $OUT/seerdec-c.log (raw check output: $OUT/check-c.log).
T0=$(date +%s)
C=.devcarry/seerdec; D=.devcarry/common/data
L=$OUT/seerdec-c.log
step() { echo "== $1 at $(( $(date +%s) - T0 )) s" | tee -a $L; }
[ -x /tmp/.jre/bin/java ] || tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $C/bitcap.jar"
export BITCAP_CACHE=/tmp/bitcap-cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader >> $L 2>&1

step "seer-decode check rows + bench"
timeout 200 $J check --device cuda --seer-decode --seer-decode-bench --data $D 2>&1 | grep -v WARNING > $OUT/check-c.log; echo "check rc ${PIPESTATUS[0]}" >> $L
grep -E "^seer-decode|checks,|FAIL|Exception|seer decode" $OUT/check-c.log | cut -c1-260 >> $L

step "small model: decode-only greedy tokens, dense vs seer density 1.0 (every step through the gate and the sparse kernel)"
$J synth --config $C/seergpu-synth-config.json --out /tmp/ss --quant int4-asym --group 128 > /dev/null 2>&1
timeout 40 $J train-gate --model /tmp/ss --text $D/text/shakespeare-head.txt --block 64 --gate-dim 64 --steps 5 --ctx 512 --batch 1 --max-windows 2 --out /tmp/ss-gate.safetensors 2>&1 | tail -1 >> $L
P="generate --model /tmp/ss --device cuda --prompt '' --temperature 0 --max-tokens 600"
for kv in fp16 int4 int2; do
  eval timeout 30 $J $P --kv $kv > /tmp/dense-$kv.txt 2>/dev/null
  eval timeout 30 $J $P --kv $kv --attention seer --gate /tmp/ss-gate.safetensors --density 1.0 > /tmp/seer1-$kv.txt 2>/tmp/seer1-$kv.err
  eval timeout 30 $J $P --kv $kv --attention seer --gate /tmp/ss-gate.safetensors --density 0.3 > /tmp/seer3-$kv.txt 2>/tmp/seer3-$kv.err
  if cmp -s /tmp/dense-$kv.txt /tmp/seer1-$kv.txt && [ -s /tmp/dense-$kv.txt ]; then echo "PASS e2e $kv: seer density 1.0, 600 greedy decode steps = dense ($(wc -c < /tmp/dense-$kv.txt) bytes)"
  else echo "FAIL e2e $kv: seer density 1.0 differs from dense"; tail -2 /tmp/seer1-$kv.err; fi >> $L
  echo "seer 0.3 $kv: same text as dense: $(cmp -s /tmp/dense-$kv.txt /tmp/seer3-$kv.txt && echo yes || echo no); $(grep -v WARNING /tmp/seer3-$kv.err | tail -1)" >> $L
done

step "8B synth + gate"
timeout 60 $J synth --preset llama-3.1-8b --quant int4-asym --group 128 --out /tmp/l8b > /dev/null 2>&1; echo "synth rc $?" >> $L
timeout 90 $J train-gate --model /tmp/l8b --text $D/text/shakespeare-head.txt --block 64 --gate-dim 128 --steps 1 --ctx 256 --batch 1 --max-windows 1 --out /tmp/l8b-gate.safetensors 2>&1 | tail -1 >> $L
B="bench --device cuda --model /tmp/l8b --gen 32 --repeat 1 --kv-group 128"
G="--attention seer --gate /tmp/l8b-gate.safetensors"
for kv in int4 fp16 int2; do
  for d in 0.1 0.3; do
    step "8B 128K $kv seer $d"; echo "-- $kv seer $d 128K" >> $L
    timeout 60 $J $B --kv $kv --kv-fill 131072 $G --density $d 2>&1 | grep -E "decode tokens|kv cache |Error|error|bitcap:" >> $L
  done
done
step "8B 128K int4 dense (same run)"; echo "-- int4 dense 128K" >> $L
timeout 60 $J $B --kv int4 --kv-fill 131072 2>&1 | grep -E "decode tokens|Error|error|bitcap:" >> $L
step "8B 1M int2 seer 0.1"; echo "-- int2 seer 0.1 1M" >> $L
timeout 90 $J $B --kv int2 --kv-fill 1M $G --density 0.1 2>&1 | grep -E "decode tokens|Error|error|bitcap:" >> $L
step "8B 32K prompt, int4 KV, seer prefill + decode at 0.1 (TTFT with the sparse prefill)"; echo "-- int4 seer 0.1 prompt 32K" >> $L
timeout 120 $J bench --device cuda --model /tmp/l8b --gen 32 --repeat 1 --kv-group 128 --kv int4 --prompt-len 32768 $G --density 0.1 2>&1 | grep -E "prefill tokens|decode tokens|ttft ms|Error|error|bitcap:" >> $L
step done
cat $L
