#!/usr/bin/env bash
# The NCCL transport on the GPU machine (issue 7): one rank per GPU, every collective checked against host sums.
# Carry [".devcarry/common", ".devcarry/tp"]; run: bash .devcarry/tp/run.sh (this file copied there with bitcap.jar).
# Not yet run: no device call was available when it was written (2026-12-02).
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp .devcarry/tp/bitcap.jar"
nvidia-smi -L > "$OUT/gpus.log" 2>&1
# libnccl.so.2 may live only inside the PyTorch wheel; point bitcap's library search there when the loader lacks it
if ! ldconfig -p | grep -q 'libnccl.so.2'; then
  d=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(os.path.dirname(nvidia.nccl.__file__), "lib"))' 2>/dev/null)
  [ -n "$d" ] && export BITCAP_CUDA_LIB_DIR="$d"
fi
echo "BITCAP_CUDA_LIB_DIR=${BITCAP_CUDA_LIB_DIR:-}" >> "$OUT/gpus.log"
NCCL_NVLS_ENABLE=0 timeout 180 $J dev.bitcap.parallel.NcclCheck 2>&1 | tee "$OUT/nccl-check.log"
# the CPU split against one process on the built-in MoE, as on the CPU machines (processes, loopback)
timeout 120 $J dev.bitcap.cli.Main logits --ids 1,2,3,4,5,6 --json > "$OUT/logits-1.json" 2>>"$OUT/logits.err"
timeout 120 $J dev.bitcap.cli.Main logits --ids 1,2,3,4,5,6 --json --tp 2 --ep 2 > "$OUT/logits-2.json" 2>>"$OUT/logits.err"
cmp -s "$OUT/logits-1.json" "$OUT/logits-2.json" && echo "tp2+ep2 logits: identical text" || echo "tp2+ep2 logits: differ (compare within 1e-5 relative)"
