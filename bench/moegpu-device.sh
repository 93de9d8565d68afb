#!/usr/bin/env bash
# moegpu device run (one call): MoE fixture rows of the check (device routing), then synthetic mixtral-8x7b and
# qwen1.5-moe-a2.7b written straight in int4-asym g128 (synth --quant), each benchmarked (bench, prompt 2048 / 512)
# and run through the CAP benchmark (bitcap cap, batch 1, 8, 32, H200 datasheet). Logs go to $OUT step by step.
# Run from the repository root with the jar, this script and moegpu-cap-h200.json in .devcarry/moegpu/.
set -u
D=.devcarry/moegpu
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $D/bitcap.jar"
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
{ nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,memory.total --format=csv; nproc; free -g; df -h /tmp; } > $OUT/machine.txt 2>&1

# 1. correctness of the MoE path: the three MoE fixtures (device routing rows included)
export BITCAP_CACHE=/tmp/cache-check
stamp check > $OUT/check.log
timeout 100 $J check --device cuda --data .devcarry/common/data --fixture tiny-mixtral,tiny-qwen2moe,tiny-qwen3moe >> $OUT/check.log 2>&1
# the check rows force the device routing; the runs below use it only when every check passed
if grep -q "checks, 0 failed" $OUT/check.log; then
  export BITCAP_MOE_ROUTING=device
else
  export BITCAP_MOE_ROUTING=host
  echo "some check failed: the runs below route MoE layers on the host (BITCAP_MOE_ROUTING=host)" >> $OUT/check.log
fi
stamp check done >> $OUT/check.log

# 2. mixtral-8x7b in int4-asym g128 (~25 GB), cap, then bench from an empty kernel cache (first start)
M=/tmp/m/mixtral-8x7b-int4
{ stamp synth; timeout 150 $J synth --preset mixtral-8x7b --quant int4-asym --group 128 --out $M; du -sh $M; stamp synth done; } > $OUT/mixtral.log 2>&1
export BITCAP_CACHE=/tmp/cache-cap
{ stamp cap; timeout 120 $J cap --config $D/moegpu-cap-h200.json --model $M --out /tmp/cap-mixtral; stamp cap done; } >> $OUT/mixtral.log 2>&1
cp /tmp/cap-mixtral/results.json $OUT/cap-mixtral.json 2>/dev/null
export BITCAP_CACHE=/tmp/cache-mixtral
{ stamp bench; timeout 90 $J bench --device cuda --model $M --prompt-len 2048 --gen 64 --repeat 2; stamp bench done; } >> $OUT/mixtral.log 2>&1
rm -rf $M

# 3. qwen1.5-moe-a2.7b in int4-asym g128: cap, bench first start / second start, bench with host routing
Q=/tmp/m/qwen1.5-moe-int4
{ stamp synth; timeout 90 $J synth --preset qwen1.5-moe-a2.7b --quant int4-asym --group 128 --out $Q; du -sh $Q; stamp synth done; } > $OUT/qwen.log 2>&1
export BITCAP_CACHE=/tmp/cache-cap
{ stamp cap; timeout 80 $J cap --config $D/moegpu-cap-h200.json --model $Q --out /tmp/cap-qwen; stamp cap done; } >> $OUT/qwen.log 2>&1
cp /tmp/cap-qwen/results.json $OUT/cap-qwen.json 2>/dev/null
export BITCAP_CACHE=/tmp/cache-qwen
for run in first-start second-start; do
  { stamp bench $run; timeout 40 $J bench --device cuda --model $Q --prompt-len 512 --gen 64 --repeat 2; } >> $OUT/qwen.log 2>&1
done
{ stamp bench host routing; BITCAP_MOE_ROUTING=host timeout 40 $J bench --device cuda --model $Q --prompt-len 512 --gen 64 --repeat 2; stamp done; } >> $OUT/qwen.log 2>&1
