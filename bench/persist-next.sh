#!/usr/bin/env bash
# gemv_persist_1 (one wave, row groups streamed through a per-lane cp.async ring) on one H200: its check rows and
# the GEMV bench beside the staged default, then llama-3.1-8b int4 decode end to end with each setting, and Nsight
# Compute on its seven decode launches. Carry [".devcarry/common", ".devcarry/final"]; logs under $OUT.
L=$OUT/run.log
. bench/device-common.sh
synth_l8b
B="bench --device cuda --model /tmp/l8b --prompt-len 16 --gen 64 --repeat 2"
for v in staged persist persist:6 persist:3; do
  step "e2e $v"
  echo "-- gemv $v" >> $L
  BITCAP_GEMV_VARIANT=$v timeout 60 $J $B 2>&1 | grep -E "decode tokens|time per output|bitcap:|rror" >> $L
done
step "ncu persist"
S="--section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats"
BITCAP_GEMV_VARIANT=persist timeout 100 ncu --clock-control none --kill yes --kernel-name regex:gemv_persist_1 --launch-count 7 $S \
   $J bench --device cuda --model /tmp/l8b --prompt-len 8 --gen 2 --repeat 1 2>&1 | grep -v WARNING \
   | grep -E "gemv_persist_1 \(|Duration|DRAM Throughput|Issue Slots Busy|Achieved Occupancy|Theoretical Occupancy|Registers Per|Waves Per SM|Block Limit|No Eligible|Warp Cycles Per Issued|Dynamic Shared" > $OUT/ncu-persist.txt
step "gemv check + bench (persist)"
timeout 200 $J check --device cuda --data $D --gemv-variants --gemv-variant-kinds persist --gemv-bench > $OUT/gemvcheck.log 2>&1; echo "gemv check rc $?" >> $L
grep -E "checks|FAIL|rror" $OUT/gemvcheck.log | head -20 >> $L
step done
cat $L
