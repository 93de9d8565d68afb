#!/usr/bin/env bash
# gemv device run (copied to .devcarry/gemv/run.sh): GEMV check rows, the GEMV benchmark (settings sweep + table),
# the fp16 cuBLAS peer timed back to back and single (bench/gemv_peer.py) and bench/torch_peers.py gemv.
T0=$(date +%s)
step() { echo "== $1 at $(( $(date +%s) - T0 )) s"; }
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar .devcarry/gemv/bitcap.jar"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem --format=csv,noheader > $OUT/gpu.txt 2>&1
step check; timeout 175 $J check --device cuda --data .devcarry/common/data --gemv-only --gemv-bench > $OUT/check.log 2>&1; echo "check rc $?"
step peer; PYTHONUNBUFFERED=1 timeout 25 python3 .devcarry/gemv/gemv_peer.py > $OUT/peer.log 2>&1; echo "peer rc $?"
step torch; PYTHONUNBUFFERED=1 timeout 25 python3 bench/torch_peers.py gemv > $OUT/torch.log 2>&1; echo "torch rc $?"
step done
grep -E "checks,|FAIL" $OUT/check.log | head -20
grep -E "copy|n=1 " $OUT/check.log | grep -v "pass" | head -60
cat $OUT/peer.log
