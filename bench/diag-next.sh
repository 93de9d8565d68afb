#!/usr/bin/env bash
# Where the time of a llama-3.1-8b int4 decode step goes, on one H200 (session of 2026-12-02 afternoon):
# the step's timeline (nsys, if present: kernel time against the gaps between graph nodes), Nsight Compute on the
# decode GEMV at its four shapes and on the folded int4 KV decode at 128K. Carry [".devcarry/common", ".devcarry/final"].
T0=$(date +%s)
L=$OUT/diag.log; D=.devcarry/common/data
step() { echo "== $1 at $(( $(date +%s) - T0 )) s" | tee -a $L; }
[ -x /tmp/.jre/bin/java ] || tar xzf .devcarry/common/.jre.tgz -C /tmp
JB="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
J="$JB -jar .devcarry/final/bitcap.jar"
export BITCAP_CACHE=/tmp/bitcap-cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader >> $L
which nsys ncu >> $L 2>&1
synth_l8b
step "bench baseline"
timeout 150 $J bench --device cuda --model /tmp/l8b --prompt-len 16 --gen 64 --repeat 2 2>&1 | grep -v WARNING | tail -25 >> $L
S="--section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy --section MemoryWorkloadAnalysis --section LaunchStats --section ComputeWorkloadAnalysis"
step "ncu gemv"
# prompt 8 tokens (gemv_staged_8 for prefill), then the first decode pass runs plainly: its first 4 gemv_staged_1 are q k v o
timeout 150 ncu --clock-control none --kill yes --kernel-name regex:gemv_staged_1 --launch-skip 0 --launch-count 7 $S \
   $J bench --device cuda --model /tmp/l8b --prompt-len 8 --gen 2 --repeat 1 2>&1 | grep -v WARNING \
   | grep -vE "^ *(---|Section)" > $OUT/ncu-gemv.txt; echo "ncu gemv rc $?" >> $L
step "ncu kv"
timeout 150 ncu --clock-control none --kill yes --kernel-name regex:kv_decode_folded --launch-skip 0 --launch-count 2 $S \
   $J bench --device cuda --model /tmp/l8b --kv int4 --kv-group 128 --kv-fill 128K --gen 2 --repeat 1 2>&1 | grep -v WARNING \
   | grep -vE "^ *(---|Section)" > $OUT/ncu-kv.txt; echo "ncu kv rc $?" >> $L
if which nsys > /dev/null 2>&1; then
  step nsys
  timeout 150 nsys profile -o /tmp/step --force-overwrite true --cuda-graph-trace node $J bench --device cuda --model /tmp/l8b \
     --prompt-len 16 --gen 32 --repeat 1 > /dev/null 2>&1
  nsys stats --report cuda_gpu_trace --format csv -o /tmp/trace /tmp/step.nsys-rep > /dev/null 2>&1
  ls /tmp/trace* >> $L
  tail -n 2000 /tmp/trace*.csv | gzip > $OUT/trace-tail.csv.gz
fi
step done
cat $L
