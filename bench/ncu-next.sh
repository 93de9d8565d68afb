#!/usr/bin/env bash
# Where the time goes in the three kernels whose goals are not met (not yet run): the packed int4 decode GEMV
# (issue 4: 40 % of copy), the folded int4 KV decode (issue 5: 15-29 % of copy) and the SeerAttention-R decode gate
# (issue 8: 40-48 µs per layer at batch 1). Nsight Compute on a few launches of each, inside the benches that time
# them: speed of light, warp stall reasons, scheduler issue rate, occupancy, memory workload. One H200 call;
# carry [".devcarry/common", ".devcarry/final"] (.devcarry/final: bitcap.jar); run `bash bench/ncu-next.sh`.
# Everything goes to $OUT/ncu.log (the raw reports are too many files to come back). The --launch-skip counts are
# guesses meant to land past the check rows in the timed shapes: read the grid sizes in the report to confirm.
L=$OUT/ncu.log
[ -x /tmp/.jre/bin/java ] || tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar .devcarry/final/bitcap.jar"
export BITCAP_CACHE=/tmp/bitcap-cache
S="--section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy --section MemoryWorkloadAnalysis"
N="ncu --clock-control none --launch-count 3 $S"
prof() { # name kernel-regex skip bitcap-args...
  local name=$1 re=$2 skip=$3; shift 3
  echo "===== $name ($re, skip $skip) $(date -u +%H:%M:%S)" >> $L
  timeout 170 $N --kernel-name "regex:$re" --launch-skip $skip $J "$@" --data .devcarry/common/data 2>&1 | grep -v WARNING \
      | grep -vE "^(group|gemv|kv-gpu|seer-decode|prefill) " | tail -150 >> $L
  echo "exit ${PIPESTATUS[0]}" >> $L
}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader > $L
prof "int4-asym g128 decode GEMV" "gemv_staged_1" 200 check --device cuda --gemv-only --gemv-bench
prof "folded int4 KV decode" "kv_decode_folded$" 100 check --device cuda --kv-only --kv-bench
prof "SeerAttention-R decode gate" "seer_decode_(scores|select|query)" 30 check --device cuda --seer-decode-bench
cat $L | head -400
