#!/usr/bin/env bash
# seergpu device run (copied to .devcarry/seergpu/run.sh with bitcap.jar, seergpu_peer.py, a small synthetic llama
# with head dim 64 (seer-synth/), a gate trained for it on the CPU (seer-gate.safetensors) and a text): PyTorch's
# flash/cuDNN causal attention as the peer, the prefill-attention check rows and benchmark, then perplexity of the
# synthetic model through `--device cuda --attention seer` against the CPU. Each step has its own cap; logs go to
# $OUT as they are written.
T0=$(date +%s)
step() { echo "== $1 at $(( $(date +%s) - T0 )) s"; }
C=.devcarry/seergpu
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $C/bitcap.jar"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader > $OUT/gpu.txt 2>&1
step peer; PYTHONUNBUFFERED=1 timeout 45 python3 $C/seergpu_peer.py > $OUT/peer.log 2>&1; echo "peer rc $?"
step check+bench; timeout 120 $J check --device cuda --prefill-only --prefill-bench > $OUT/check.log 2>&1; echo "check rc $?"
step model
P="perplexity --model $C/seer-synth --text $C/seer-text.txt --ctx 2048 --max-windows 2 --json"
G="--attention seer --gate $C/seer-gate.safetensors"
for args in "--device cpu" "--device cuda" "--device cpu $G --density 1.0" "--device cuda $G --density 1.0" \
            "--device cpu $G --density 0.3" "--device cuda $G --density 0.3" "--device cpu $G --threshold 0.05" "--device cuda $G --threshold 0.05" \
            "--device cuda --attention oracle --density 0.3"; do
  echo "$args: $(timeout 25 $J $P $args 2>&1 | grep -v WARNING | tail -1)" >> $OUT/model.log
done
step done
cat $OUT/gpu.txt; cat $OUT/check.log; cat $OUT/peer.log; cat $OUT/model.log
