#!/usr/bin/env bash
# hwgpu device run (one call): `bitcap hw --device cuda` (JSON to $OUT), the PyTorch peer figures, then a short
# `bitcap cap --device cuda` on the built-in tiny MoE so the GPU ceilings reach the cap results. nvidia-smi samples the
# SM clock and power alongside, to cross-check the clock the probes measure themselves. Run from the repository root.
D=.devcarry/hwgpu
T0=$(date +%s)
step() { echo "== $1 at $(( $(date +%s) - T0 )) s"; }
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $D/bitcap.jar"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,power.limit,memory.total --format=csv > $OUT/gpu.txt 2>&1
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv -lms 200 > $OUT/smi.log 2>&1 &
SMI=$!
step hw; timeout 100 $J hw --device cuda --out $OUT/hw.json > $OUT/hw.log 2>&1; echo "hw rc $?"
step peer; PYTHONUNBUFFERED=1 timeout 40 python3 $D/peer.py > $OUT/peer.log 2>&1; echo "peer rc $?"
step cap; timeout 45 $J cap --device cuda --hardware h200 --weights f32 --kv f32 --batch 1,4 --output-len 16 --out $OUT/cap > $OUT/cap.log 2>&1; echo "cap rc $?"
kill $SMI
step done
cat $OUT/gpu.txt; tail -60 $OUT/hw.log; cat $OUT/peer.log; tail -8 $OUT/cap.log
