#!/usr/bin/env bash
# Perplexity of stories260K against attention density for a learned SeerAttention gate, the oracle and the
# window baseline (docs/SPARSE_ATTENTION.md). Usage: scripts/sparse-attention-table.sh GATE [WINDOWS]
# Reads ../shared/data; evaluates the first WINDOWS (default 20) windows of 512 tokens of each text.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
gate="$1"; windows="${2:-20}"
data="$here/../shared/data"
block=$(python3 -c "import json,struct,sys; f=open(sys.argv[1],'rb'); n=struct.unpack('<Q',f.read(8))[0]; print(json.loads(f.read(n))['__metadata__']['block_size'])" "$gate")
model=(--model "$data/models/stories260K.bin" --tokenizer "$data/models/tok512.bin" --ctx 512 --max-windows "$windows" --json)
ppl() { "$here/bitcap" perplexity "${model[@]}" "$@" 2>/dev/null | python3 -c "import json,sys; r=json.load(sys.stdin); print('%.4f %s' % (r['perplexity'], ('%.3f' % r['block_density']) if 'block_density' in r else '-'))"; }
for text in tinystories-val.txt pg19-sample.txt; do
  echo "## $text (block $block, $windows windows of 512)"
  echo "dense: $(ppl --text "$data/text/$text")"
  for d in 1.0 0.5 0.3 0.2 0.1; do
    echo "density $d | gate $(ppl --text "$data/text/$text" --attention seer --gate "$gate" --density $d)" \
      "| oracle $(ppl --text "$data/text/$text" --attention oracle --attention-block "$block" --density $d)" \
      "| window $(ppl --text "$data/text/$text" --attention window --attention-block "$block" --density $d)"
  done
done
