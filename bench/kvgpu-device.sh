#!/usr/bin/env bash
# kvgpu device run (copied to .devcarry/kvgpu/run.sh): paged GPU KV cache check rows and the decode-attention
# benchmark (check --kv-only --kv-bench), then the PyTorch SDPA peer (bench/kv_peer.py) in the same call.
T0=$(date +%s)
step() { echo "== $1 at $(( $(date +%s) - T0 )) s"; }
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar .devcarry/kvgpu/bitcap.jar"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem --format=csv,noheader > $OUT/gpu.txt 2>&1
step check; timeout ${CHECK_S:-160} $J check --device cuda --data .devcarry/common/data --kv-only --kv-bench > $OUT/check.log 2>&1; echo "check rc $?"
step peer; PYTHONUNBUFFERED=1 timeout ${PEER_S:-55} python3 .devcarry/kvgpu/kv_peer.py > $OUT/peer.log 2>&1; echo "peer rc $?"
step done
grep -E "checks,|FAIL|Exception|rror" $OUT/check.log | head -30
grep -E "kv decode" $OUT/check.log | head -60
cat $OUT/peer.log
