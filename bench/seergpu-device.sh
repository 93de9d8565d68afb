#!/usr/bin/env bash
# seergpu device run (copied to .devcarry/seergpu/run.sh): prefill-attention check rows, then the prefill benchmark
# (tensor-core dense and SeerAttention block-sparse with the gate) and PyTorch's flash/cuDNN causal attention as the
# peer, in the same call. Each step has its own cap; logs go to $OUT as they are written.
T0=$(date +%s)
step() { echo "== $1 at $(( $(date +%s) - T0 )) s"; }
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar .devcarry/seergpu/bitcap.jar"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader > $OUT/gpu.txt 2>&1
step peer; PYTHONUNBUFFERED=1 timeout 60 python3 .devcarry/seergpu/seergpu_peer.py > $OUT/peer.log 2>&1; echo "peer rc $?"
step check+bench; timeout 150 $J check --device cuda --prefill-only --prefill-bench > $OUT/check.log 2>&1; echo "check rc $?"
step done
cat $OUT/gpu.txt; cat $OUT/check.log; cat $OUT/peer.log
