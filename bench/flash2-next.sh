#!/usr/bin/env bash
# flash2 device run (one call): decides whether the opt-in prefill kernels (flash_prefill2.cu: WIDE, SWIZZLED) and
# the radix gate (tiled maps + tiled scores + radix pick) become the defaults. Steps, each capped:
#   1. PyTorch flash / cuDNN causal attention at the bench's shapes (the peer, same machine, same call);
#   2. `bitcap check --prefill-only --prefill-bench`: every prefill-att row for BASE, WIDE and SWIZZLED, the gate
#      rows for the sort and radix pickers (GPU vs CPU gate, radix vs sort on the GPU: 0 rows may differ), then the
#      bench: dense per kernel, and seer D for the defaults and for the fastest kernel with each picker;
#   3. a table of every bench row beside torch flash / cuDNN with x flash and x default ratios (flash2-table.py);
#   4. if the carry has the seergpu synthetic model and gate: perplexity through `--device cuda --attention seer`
#      with the defaults and with BITCAP_PREFILL_KERNEL=wide BITCAP_GATE_PICKER=radix, beside the CPU.
# Only a few files come back from a call: everything goes to $OUT/flash2.log (and a copy of the raw check output).
# Carry folder (made on the CPU machine):
#   D=/work/main/.devcarry/flash2; mkdir -p $D; cp target/bitcap.jar bench/seergpu_peer.py bench/flash2-table.py $D/; cp bench/flash2-next.sh $D/run.sh
#   optional, for step 3: cp -r /work/main/.devcarry/seergpu/{seer-synth,seer-gate.safetensors,seer-text.txt} $D/
#   (or make them with the commands at the top of bench/seergpu-device.sh)
# Run with carry [".devcarry/common", ".devcarry/flash2"], command `bash .devcarry/flash2/run.sh`, timeout_s 600.
# Decision rule: a kernel or picker becomes the default only if every one of its rows passes and it is faster in
# the bench at every length (ratios against BASE/SORT and torch flash from the same log).
T0=$(date +%s)
C=.devcarry/flash2
L=$OUT/flash2.log
step() { echo "== $1 at $(( $(date +%s) - T0 )) s" | tee -a $L; }
tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar $C/bitcap.jar"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader >> $L 2>&1
git log -1 --format="main checkout %h %s" >> $L 2>/dev/null || echo "main checkout: no git metadata" >> $L

step peer
PYTHONUNBUFFERED=1 timeout 60 python3 $C/seergpu_peer.py 8192 32768 131072 >> $L 2>&1; echo "peer rc $?" | tee -a $L

step check+bench
timeout 400 $J check --device cuda --prefill-only --prefill-bench 2>&1 | grep -v WARNING | tee $OUT/check.log >> $L
echo "check rc ${PIPESTATUS[0]}" | tee -a $L
grep -c ' pass' $OUT/check.log | sed 's/^/rows passed: /' >> $L
grep ' FAIL' $OUT/check.log | sed 's/^/FAILED ROW: /' >> $L

step table
python3 $C/flash2-table.py $L > $OUT/table.txt 2>&1; cat $OUT/table.txt >> $L

if [ -d $C/seer-synth ] && [ -f $C/seer-gate.safetensors ]; then
  step model
  P="perplexity --model $C/seer-synth --text $C/seer-text.txt --ctx 2048 --max-windows 2 --json"
  G="--attention seer --gate $C/seer-gate.safetensors --density 0.3"
  echo "cpu seer 0.3: $(timeout 25 $J $P --device cpu $G 2>&1 | grep -v WARNING | tail -1)" >> $L
  echo "cuda seer 0.3 defaults: $(timeout 25 $J $P --device cuda $G 2>&1 | grep -v WARNING | tail -1)" >> $L
  echo "cuda seer 0.3 wide+radix: $(BITCAP_PREFILL_KERNEL=wide BITCAP_GATE_PICKER=radix timeout 25 $J $P --device cuda $G 2>&1 | grep -v WARNING | tail -1)" >> $L
  echo "cuda seer 0.3 swizzled+radix: $(BITCAP_PREFILL_KERNEL=swizzled BITCAP_GATE_PICKER=radix timeout 25 $J $P --device cuda $G 2>&1 | grep -v WARNING | tail -1)" >> $L
else
  echo "model step skipped: no $C/seer-synth or $C/seer-gate.safetensors in the carry" >> $L
fi
step done
cat $L
