#!/usr/bin/env bash
# seergpu device run (copied to .devcarry/seergpu/run.sh with bitcap.jar, seergpu_peer.py, a small synthetic llama
# with head dim 64 (seer-synth/), a gate trained for it on the CPU (seer-gate.safetensors) and a text): PyTorch's
# flash/cuDNN causal attention as the peer, the prefill-attention check rows and benchmark, then perplexity of the
# synthetic model through `--device cuda --attention seer` against the CPU. Each step has its own cap; logs go to
# $OUT as they are written. The carry folder is made on the CPU machine with:
#   D=/work/main/.devcarry/seergpu; cp target/bitcap.jar bench/seergpu_peer.py $D/; cp bench/seergpu-device.sh $D/run.sh
#   bitcap synth --config bench/seergpu-synth-config.json --out $D/seer-synth --dtype f32
#   bitcap train-gate --model $D/seer-synth --text ../shared/data/text/tinyshakespeare.txt --block 64 --steps 20 \
#       --ctx 2048 --batch 2 --max-windows 4 --out $D/seer-gate.safetensors
#   head -c 20000 ../shared/data/text/tinyshakespeare.txt > $D/seer-text.txt
# and run with carry [".devcarry/common", ".devcarry/seergpu"], command `bash .devcarry/seergpu/run.sh`.
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
