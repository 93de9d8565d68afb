#!/usr/bin/env bash
# The evening's last call: the whole GPU check (gemv_packed.cu changed, so the kernel cache's manifest is compiled in
# parallel first), llama-3.1-8b int4 decode over staged GEMV launch settings (BITCAP_GEMV_VARIANT=staged:R:B[:M]) with
# the default twice, then llama-3.1-8b bf16 and mixtral-8x7b int4 end to end with programmatic launch and stacked
# projections. Carry [".devcarry/common", ".devcarry/final", ".devcarry/kcache"]; logs under $OUT.
L=$OUT/run.log
. bench/device-common.sh
full_check ${CHECK_S:-150}
grep -E "side by side" $OUT/full-check.log >> $L
synth_l8b
for v in staged staged:4:2:4 staged:4:4 staged:2:3 staged; do
  step "e2e gemv $v"; echo "-- prompt 16, BITCAP_GEMV_VARIANT=$v" >> $L
  BITCAP_GEMV_VARIANT=$v timeout 60 $J bench --device cuda --model /tmp/l8b --prompt-len 16 --gen 64 --repeat 2 2>&1 \
    | grep -E "decode tokens|time per output|kernel compile ms|bitcap:|rror" >> $L
done
step "synth bf16"
timeout 120 $J synth --preset llama-3.1-8b --dtype bf16 --out /tmp/l8b-bf16 > /dev/null 2>&1; echo "synth bf16 rc $?" >> $L
step "e2e bf16"; echo "-- llama-3.1-8b bf16, prompt 2048" >> $L
timeout 60 $J bench --device cuda --model /tmp/l8b-bf16 --prompt-len 2048 --gen 64 --repeat 2 2>&1 \
  | grep -E "prefill tokens|decode tokens|time per output|ttft|process start|decode bytes|decode bandwidth|bitcap:|rror" >> $L
rm -rf /tmp/l8b-bf16
step "synth mixtral"
timeout 150 $J synth --preset mixtral-8x7b --quant int4-asym --group 128 --out /tmp/mx > /dev/null 2>&1; echo "synth mixtral rc $?" >> $L
step "e2e mixtral"; echo "-- mixtral-8x7b int4-asym g128, prompt 2048" >> $L
timeout 90 $J bench --device cuda --model /tmp/mx --prompt-len 2048 --gen 64 --repeat 2 2>&1 \
  | grep -E "prefill tokens|decode tokens|time per output|ttft|process start|decode bytes|decode bandwidth|kernel modules compiled|bitcap:|rror" >> $L
step done
cat $L
