#!/usr/bin/env bash
# kvgpu device run (copied to .devcarry/kvgpu/run.sh): paged GPU KV cache check rows and the decode-attention
# benchmark (check --kv-only --kv-bench), the PyTorch SDPA peer (bench/kv_peer.py), then a small synthetic llama
# (head dim 64, 8 query / 2 KV heads): greedy text on cuda vs cpu with the same --kv, and bench at a 32K prompt.
T0=$(date +%s)
step() { echo "== $1 at $(( $(date +%s) - T0 )) s"; }
C=.devcarry/kvgpu
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $C/bitcap.jar"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem --format=csv,noheader > $OUT/gpu.txt 2>&1
step check; timeout ${CHECK_S:-120} $J check --device cuda --data .devcarry/common/data --kv-only --kv-folded --kv-bench > $OUT/check.log 2>&1; echo "check rc $?"
step peer; PYTHONUNBUFFERED=1 timeout ${PEER_S:-45} python3 $C/kv_peer.py > $OUT/peer.log 2>&1; echo "peer rc $?"
step model
M=/tmp/tiny; timeout 20 $J synth --config $C/kvgpu-tiny-llama.json --out $M --dtype bf16 > $OUT/synth.log 2>&1; echo "synth rc $?"
P="the quick brown fox"
for kv in "fp16" "int4 --kv-key channel" "int4 --kv-key token" "int2 --kv-key channel" "int2 --kv-key token"; do
  for dev in cuda cpu; do
    echo "-- $dev --kv $kv" >> $OUT/generate.log
    timeout 12 $J generate --model $M --device $dev --kv $kv --kv-group 32 --temperature 0 --max-tokens 48 --prompt "$P" >> $OUT/generate.log 2>&1
  done
done
step bench
for kv in f32 fp16 int4 int2; do
  timeout 25 $J bench --model $M --device cuda --kv $kv --kv-group 128 --prompt-len 32768 --gen 32 --repeat 1 --json >> $OUT/e2e.log 2>&1; echo "e2e $kv rc $?"
done
step done
grep -E "checks,|FAIL|Exception|rror" $OUT/check.log | head -30
grep -E "kv decode" $OUT/check.log | head -60
cat $OUT/peer.log
