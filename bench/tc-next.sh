#!/usr/bin/env bash
# gemv_tc_1 (4-bit INT decode GEMV on tensor cores) on one H200: llama-3.1-8b int4 decode end to end with it and with
# the staged default, Nsight Compute on its seven decode launches, then its check rows and bench beside the default.
# Carry [".devcarry/common", ".devcarry/final"]; logs under $OUT.
L=$OUT/run.log
. bench/device-common.sh
synth_l8b
B="bench --device cuda --model /tmp/l8b --prompt-len 16 --gen 64 --repeat 2"
for v in tc staged; do
  step "e2e $v"; echo "-- gemv $v" >> $L
  BITCAP_GEMV_VARIANT=$v timeout 60 $J $B 2>&1 | grep -E "decode tokens|time per output|bitcap:|rror|Exception" >> $L
done
step "ncu tc"
BITCAP_GEMV_VARIANT=tc timeout 60 ncu --clock-control none --kill yes --kernel-name regex:gemv_tc_1 --launch-count 7 \
   --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats \
   $J bench --device cuda --model /tmp/l8b --prompt-len 8 --gen 2 --repeat 1 2>&1 | grep -v WARNING \
   | grep -E "gemv_tc_1 \(|Duration|DRAM Throughput|Issue Slots Busy|Achieved Occupancy|Registers Per|Block Limit (Reg|Sha)|No Eligible|Warp Cycles Per Issued|Local" > $OUT/ncu-tc.txt
step "gemv check + bench (tc)"
timeout ${CHECK_S:-170} $J check --device cuda --data $D --gemv-variants --gemv-variant-kinds tc --gemv-bench > $OUT/gemvcheck.log 2>&1; echo "gemv check rc $?" >> $L
grep -E "checks|FAIL|rror" $OUT/gemvcheck.log | head -20 >> $L
step done
cat $L
