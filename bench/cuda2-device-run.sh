#!/usr/bin/env bash
# cuda2 device run: check (all rows) + GEMV bench, torch peer, llama-3.1-8b bf16 and int4-asym g128 end to end.
# Every step has its own cap so that one slow step leaves time for the rest; logs go to $OUT as they are written.
cd "$(dirname "$0")"
T0=$(date +%s)
step() { echo "== $1 at $(( $(date +%s) - T0 )) s"; }
tar xzf .jre.tgz
J=".jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar bitcap.jar"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader > $OUT/gpu.txt 2>&1
step check; timeout 200 $J check --device cuda --data data --gemv-bench > $OUT/check.log 2>&1; echo "check rc $?"
step torch; PYTHONUNBUFFERED=1 timeout 40 python3 torch_peers.py gemv > $OUT/torch.log 2>&1; echo "torch rc $?"
step synth; timeout 70 $J synth --preset llama-3.1-8b --out /tmp/l8b --dtype bf16 > $OUT/synth.log 2>&1; echo "synth rc $?"; df -h /tmp | tail -1
step bench-bf16; timeout 50 $J bench --device cuda --model /tmp/l8b --prompt-len 2048 --gen 64 --repeat 2 > $OUT/bench-bf16.log 2>&1; echo "bench rc $?"
step quantize; timeout 80 $J quantize --model /tmp/l8b --format int4-asym --group 128 --out /tmp/l8b-int4 > $OUT/quantize.log 2>&1; echo "quantize rc $?"
rm -rf /tmp/l8b
step bench-int4; timeout 45 $J bench --device cuda --model /tmp/l8b-int4 --prompt-len 2048 --gen 64 --repeat 2 > $OUT/bench-int4.log 2>&1; echo "bench rc $?"
step done
echo "---- summary"; cat $OUT/gpu.txt
grep -E "checks,|FAIL" $OUT/check.log | head -20
grep -E "device copy|n=1 *[0-9]" $OUT/check.log | grep -v "check\|pass" | head -40
cat $OUT/torch.log | tail -15; tail -3 $OUT/bench-bf16.log; tail -3 $OUT/bench-int4.log
