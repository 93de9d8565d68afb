#!/usr/bin/env bash
# Regenerates the stories260K table of docs/QUANTIZATION.md: every format at 4, 3 and 2 bits, groups of 32 and 64 and
# per channel, quantized by RTN, clip (INT-asym only), GPTQ and AWQ, each evaluated on the first MAX_TOKENS tokens of
# tinystories-val.txt (windows of 512) for perplexity and mean KL(F32 || quantized) of the next-token distribution.
#
#   scripts/quant-table.sh [OUT_DIR]            (default OUT_DIR: target/quant-table)
#   scripts/quant-table.sh --render [OUT_DIR]   rewrites table.md from an existing results.csv
#
# Writes OUT_DIR/results.csv (one line per run, every figure, including top-1 agreement and seconds) and
# OUT_DIR/table.md (the markdown table). Quiet apart from one line per run. Settings, all optional, from the
# environment: MAX_TOKENS (8192), SAMPLES (16) and SEQ_LEN (512) calibration windows of CALIB (tinyshakespeare.txt),
# METHODS ("rtn clip gptq awq"), GROUP_SIZES ("32 64 -1"), BITS ("4 3 2").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${BITCAP_SHARED_DATA:-$root/../shared/data}"
model="$data/models/stories260K.bin"
text="$data/text/tinystories-val.txt"
calib="${CALIB:-$data/text/tinyshakespeare.txt}"
max_tokens="${MAX_TOKENS:-8192}" samples="${SAMPLES:-16}" seq_len="${SEQ_LEN:-512}" ctx=512
methods="${METHODS:-rtn clip gptq awq}" groups="${GROUP_SIZES:-32 64 -1}" bits_list="${BITS:-4 3 2}"
render_only=false
if [ "${1:-}" = --render ]; then render_only=true; shift; fi
out="${1:-$root/target/quant-table}"
csv="$out/results.csv"

# the markdown table from results.csv: one row per format and group, a perplexity / KL pair per method; AWQ's
# bits per weight get their own column (its F32 input scales add to the others')
render() {
  awk -F, -v methods="$methods" '
    NR == 1 { next }
    $3 != "none" && $9 != "" { tokens = $9 + $9 / ('$ctx' - 1) }
    {
      key = $1 "," $2
      if (!(key in seen)) { seen[key] = 1; order[++n] = key }
      bpw[key "," $3] = $4; ppl[key "," $3] = $5; kl[key "," $3] = $6; total += $10
    }
    END {
      m = split(methods, ms, " ")
      awq = 0
      for (i = 1; i <= m; i++) if (ms[i] == "awq") awq = 1
      head = "| format | group | bits/weight |"; rule = "|---|---|---|"
      for (i = 1; i <= m; i++) { head = head " " toupper(ms[i]) " ppl | " toupper(ms[i]) " KL |"; rule = rule "---:|---:|" }
      if (awq) { head = head " AWQ bits/weight |"; rule = rule "---|" }
      print head; print rule
      for (r = 1; r <= n; r++) {
        split(order[r], k, ",")
        g = k[1] == "f32" ? "-" : k[2] == -1 ? "channel" : k[2]
        b = order[r] "," (k[1] == "f32" ? "none" : ms[1])
        line = "| " k[1] " | " g " | " (b in bpw ? sprintf("%.3f", bpw[b]) : "") " |"
        for (i = 1; i <= m; i++) {
          c = order[r] "," ms[i]
          if (k[1] == "f32") c = i == 1 ? order[r] ",none" : "-"
          if (c in ppl) line = line sprintf(" %.3f | %.4f |", ppl[c], kl[c]); else line = line " | |"
        }
        if (awq) line = line ((order[r] ",awq") in bpw ? sprintf(" %.3f |", bpw[order[r] ",awq"]) : " |")
        print line
      }
      printf "\n%d tokens of tinystories-val.txt per run (windows of %d); %d runs, %d s in all.\n", tokens, '$ctx', n_runs = NR - 1, total
    }' "$csv" > "$out/table.md"
}

if $render_only; then
  [ -f "$csv" ] || { echo "quant-table: no $csv to render" >&2; exit 2; }
  render
  exit 0
fi
for f in "$model" "$text" "$calib"; do
  [ -f "$f" ] || { echo "quant-table: missing $f (set BITCAP_SHARED_DATA to the shared data folder)" >&2; exit 2; }
done
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bitcap() { "$root/bitcap" "$@" 2> >(grep -v '^WARNING: Using incubator modules' >&2); }
json_field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }

echo "format,group,method,bits_per_weight,perplexity,mean_kl,top1_agreement,reference_perplexity,tokens,seconds" > "$csv"
start_all=$SECONDS

# one run: quantize (unless the format is f32), evaluate against the F32 model, append a CSV line
run() {
  local format=$1 group=$2 method=$3 start=$SECONDS target="$model" bpw=32
  if [ "$format" != f32 ]; then
    local args=(quantize --model "$model" --format "$format" --group "$group" --method "$method" --out "$work/q" --force)
    [ "$method" = rtn ] || args+=(--calib "$calib" --samples "$samples" --seq-len "$seq_len")
    local said
    said="$(bitcap "${args[@]}")"
    bpw="$(sed -n 's/.*(\([0-9.]*\) bits per weight.*/\1/p' <<<"$said")"
    target="$work/q"
  fi
  local j
  j="$(bitcap perplexity --model "$target" --reference "$model" --text "$text" --ctx $ctx --max-tokens "$max_tokens" --json)"
  local line="$format,$group,$method,$bpw,$(json_field perplexity <<<"$j"),$(json_field mean_kl <<<"$j"),$(json_field top1_agreement <<<"$j"),$(json_field reference_perplexity <<<"$j"),$(json_field tokens <<<"$j"),$((SECONDS - start))"
  echo "$line" >> "$csv"
  echo "quant-table: $line" >&2
}

formats_for() {  # the formats that exist at $1 bits (no 2-bit FP or NF code book)
  local b=$1
  echo "int$b-sym int$b-asym"
  [ "$b" -ge 3 ] && echo "fp$b afp$b nf$b anf$b"
  return 0
}

run f32 -1 none
run int8-asym 32 rtn
for method in $methods; do
  for b in $bits_list; do
    for format in $(formats_for "$b"); do
      [ "$method" = clip ] && [ "$format" != "int$b-asym" ] && continue  # BitDistiller's clip search is for INT-asym
      for group in $groups; do run "$format" "$group" "$method"; done
    done
  done
done
total=$((SECONDS - start_all))
render
echo "quant-table: wrote $out/table.md and $csv in ${total} s" >&2
