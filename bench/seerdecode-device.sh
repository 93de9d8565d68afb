#!/usr/bin/env bash
# SeerAttention-R decode on the GPU and the long-context KV figures (issues 5 and 8), one device call, each step capped.
# Carry [".devcarry/common", ".devcarry/seerdec"]; .devcarry/seerdec holds bitcap.jar, kv_peer.py and this file as run.sh;
# .devcarry/common holds .jre.tgz and data/ (hf-fixtures, models/stories260K.bin + tok512.bin, text/shakespeare-head.txt).
# Everything goes to one log, $OUT/seerdec.log (raw check output: $OUT/check.log).
#   1. check rows: the sparse paged decode kernel (kv-gpu rows) and the decode gate (seer-decode rows) against the CPU;
#   2. PyTorch SDPA fp16 decode (the peer) at 32/8 heads, B 1 and 8, L 32K and 128K;
#   3. one layer: gate + sparse decode at density 0.5 / 0.3 / 0.1 against dense decode of the same paged cache;
#   4. end to end on a small synthetic llama with a CPU-trained gate: greedy tokens of seer at density 1.0 equal dense
#      (fp16 and int4 KV), and seer at 0.3 runs;
# Part B (bench/seerdecode-device-b.sh, the next call on the warm machine): llama-3.1-8b int4-asym g128 at a 128K
# filled cache per KV format, dense and seer 0.1; int2 at 1M.
T0=$(date +%s)
C=.devcarry/seerdec; D=.devcarry/common/data
L=$OUT/seerdec.log
step() { echo "== $1 at $(( $(date +%s) - T0 )) s" | tee -a $L; }
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $C/bitcap.jar"
export BITCAP_CACHE=/tmp/bitcap-cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader >> $L 2>&1

step "check kv-only (sparse decode rows) + seer-decode"
timeout 210 $J check --device cuda --kv-only --data $D 2>&1 | grep -v WARNING > $OUT/check.log; echo "kv check rc ${PIPESTATUS[0]}" >> $L
timeout 80 $J check --device cuda --seer-decode --data $D 2>&1 | grep -v WARNING >> $OUT/check.log; echo "seer-decode check rc ${PIPESTATUS[0]}" >> $L
grep -E "checks,|FAIL" $OUT/check.log >> $L
grep -E "sparse|seer-decode" $OUT/check.log >> $L

step peer
PYTHONUNBUFFERED=1 timeout 50 python3 $C/kv_peer.py 32/8 1,8 32768,131072 >> $L 2>&1; echo "peer rc $?" >> $L

step "seer decode bench"
timeout 100 $J check --device cuda --seer-decode-bench --data $D 2>&1 | grep -v WARNING | grep -E "seer decode|dense|gate|µs" >> $L; echo "bench rc ${PIPESTATUS[0]}" >> $L

step "small model e2e"
$J synth --config $C/seergpu-synth-config.json --out /tmp/ss --quant int4-asym --group 128 >> $L 2>&1
timeout 40 $J train-gate --model /tmp/ss --text $D/text/shakespeare-head.txt --block 64 --gate-dim 64 --steps 5 --ctx 512 --batch 1 --max-windows 2 --out /tmp/ss-gate.safetensors 2>&1 | tail -1 >> $L
P="generate --model /tmp/ss --device cuda --prompt \"$(head -c 1500 $D/text/shakespeare-head.txt | tr '\n' ' ' | tr -d '\"$`\\\\')\" --temperature 0 --max-tokens 300"
for kv in fp16 int4; do
  eval timeout 30 $J $P --kv $kv > /tmp/dense-$kv.txt 2>/dev/null
  eval timeout 30 $J $P --kv $kv --attention seer --gate /tmp/ss-gate.safetensors --density 1.0 > /tmp/seer1-$kv.txt 2>/tmp/seer1-$kv.err
  eval timeout 30 $J $P --kv $kv --attention seer --gate /tmp/ss-gate.safetensors --density 0.3 > /tmp/seer3-$kv.txt 2>/tmp/seer3-$kv.err
  if cmp -s /tmp/dense-$kv.txt /tmp/seer1-$kv.txt && [ -s /tmp/dense-$kv.txt ]; then echo "PASS e2e $kv: seer density 1.0 greedy output = dense ($(wc -c < /tmp/dense-$kv.txt) bytes)" >> $L
  else echo "FAIL e2e $kv: seer density 1.0 output differs from dense"; tail -3 /tmp/seer1-$kv.err; fi >> $L
  echo "seer 0.3 $kv: $(wc -c < /tmp/seer3-$kv.txt) bytes, same as dense: $(cmp -s /tmp/dense-$kv.txt /tmp/seer3-$kv.txt && echo yes || echo no); $(tail -1 /tmp/seer3-$kv.err)" >> $L
done

step done
cat $L
