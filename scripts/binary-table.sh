#!/usr/bin/env bash
# The binary rows of docs/QUANTIZATION.md, on the same protocol as scripts/quant-table.sh: stories260K calibrated on
# SAMPLES x SEQ_LEN windows of CALIB (tinyshakespeare.txt), evaluated on the first MAX_TOKENS tokens of tinystories-val.txt
# (windows of 512) for perplexity, mean KL(F32 || binary) and top-1 agreement. Prints a markdown table.
#
#   scripts/binary-table.sh [OUT_DIR]     (default OUT_DIR: target/binary-table)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${BITCAP_SHARED_DATA:-$root/../shared/data}"
model="$data/models/stories260K.bin"
text="$data/text/tinystories-val.txt"
calib="${CALIB:-$data/text/tinyshakespeare.txt}"
max_tokens="${MAX_TOKENS:-8192}" samples="${SAMPLES:-16}" seq_len="${SEQ_LEN:-512}"
out="${1:-$root/target/binary-table}"
mkdir -p "$out"
echo "| method | N:M kept | bits/weight | perplexity | mean KL | top-1 agreement |"
echo "|---|---|---:|---:|---:|---:|"
for run in "billm -" "billm 6:8" "billm 5:8" "billm 4:8" "stbllm -" "stbllm 6:8" "stbllm 5:8" "stbllm 4:8"; do
  set -- $run
  method=$1 nm=$2
  dir="$out/$method-${nm/:/of}"
  nm_flag=()
  [ "$nm" != - ] && nm_flag=(--nm "$nm")
  q=$("$root/bitcap" quantize --model "$model" --method "$method" "${nm_flag[@]}" --calib "$calib" --samples "$samples" \
        --seq-len "$seq_len" --seed 0 --out "$dir" --force 2>/dev/null | tail -1)
  bits=$(sed -n 's/.*(\([0-9.]*\) bits per weight.*/\1/p' <<<"$q")
  e=$("$root/bitcap" perplexity --model "$dir" --reference "$model" --text "$text" --ctx 512 --max-tokens "$max_tokens" --json 2>/dev/null)
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print("| %s | %s | %s | %.3f | %.4f | %.3f |" % (sys.argv[2], sys.argv[3], sys.argv[4], j["perplexity"], j["mean_kl"], j["top1_agreement"]))' \
    "$e" "$method" "$nm" "$bits"
done
