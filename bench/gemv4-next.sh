#!/usr/bin/env bash
# gemv4 (issue 4): the opt-in packed decode kernels gemv_wide_*, gemv_bulk_*, gemv_stream_1 (since removed) and gemv_async_1 on the
# H200, in one call (copied to .devcarry/gemv4/run.sh with the jar; carry .devcarry/common + .devcarry/gemv4). In order
# of priority, each step capped (~9 min in all at most): (1) their check rows against the CPU, every format and odd
# shapes (the bulk-copy kernels' rows last); (2) the GEMV sweep of wide + async beside the default staged kernel
# (int4-asym, afp4 g128, 8B shapes, n = 1, 4); (3) the same for bulk + stream (own process: a trap in a bulk-copy
# kernel ends only that step); (4) llama-3.1-8b int4-asym g128 decode end to end with BITCAP_GEMV_VARIANT = staged /
# wide / bulk / stream. Five files come back: gpu.txt, steps.log, check.log, bench.log, e2e.log. What decides a
# default: docs/CUDA_NOTES.md ("Opt-in decode GEMV variants").
T0=$(date +%s)
step() { echo "== $1 at $(( $(date +%s) - T0 )) s" | tee -a $OUT/steps.log; }
G=.devcarry/gemv4; D=.devcarry/common/data
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $G/bitcap.jar"
export BITCAP_CACHE=/tmp/bitcap-cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem --format=csv,noheader > $OUT/gpu.txt 2>&1
step check; timeout 150 $J check --device cuda --data $D --gemv-variants > $OUT/check.log 2>&1; echo "check rc $?" >> $OUT/steps.log
grep -E "checks,|FAIL" $OUT/check.log | head -20
step bench-wide-async; timeout 110 $J check --device cuda --data $D --gemv-variants --gemv-variant-kinds wide,async --gemv-bench > $OUT/bench.log 2>&1
echo "bench wide,async rc $?" >> $OUT/steps.log
step bench-bulk-stream; timeout 100 $J check --device cuda --data $D --gemv-variants --gemv-variant-kinds bulk,stream --gemv-bench >> $OUT/bench.log 2>&1
echo "bench bulk,stream rc $?" >> $OUT/steps.log
grep -E "copy|gemv" $OUT/bench.log | grep -v " pass" | head -120
step synth8b; timeout 40 $J synth --preset llama-3.1-8b --quant int4-asym --group 128 --out /tmp/l8b-int4 > $OUT/e2e.log 2>&1; echo "synth rc $?" >> $OUT/steps.log
for v in staged wide bulk stream; do
  step "bench8b-$v"; echo "== BITCAP_GEMV_VARIANT=$v" >> $OUT/e2e.log
  BITCAP_GEMV_VARIANT=$v timeout 35 $J bench --device cuda --model /tmp/l8b-int4 --prompt-len 2048 --gen 64 --repeat 2 >> $OUT/e2e.log 2>&1
  echo "bench8b $v rc $?" >> $OUT/steps.log
done
grep -E "^== |decode tokens" $OUT/e2e.log
step done
cat $OUT/steps.log
