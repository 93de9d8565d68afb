# Sourced by the device scripts (bench/*-next.sh) after they set L, their log under $OUT: unpacks the carried Java
# runtime once per machine, sets J (the bitcap command on the carried jar), D (the carried data) and the kernel cache,
# brings the kernel cache in and back out, logs the GPU and its clocks, and defines `step NAME` (logs the seconds since the start to $L and to the output) and
# `full_check LIMIT_S` (the whole `bitcap check --device cuda` into $OUT/full-check.log, its summary and failures into $L),
# `kv_bench LIMIT_S` (the KV check rows and decode bench into $OUT/kvcheck.log) `kv_peer` (PyTorch SDPA, $OUT/kvpeer.log)
# and `synth_l8b` (synthetic llama-3.1-8b int4-asym g128 in /tmp/l8b, once per machine).
T0=$(date +%s)
D=.devcarry/common/data
step() { echo "== $1 at $(( $(date +%s) - T0 )) s" | tee -a $L; }
[ -x /tmp/.jre/bin/java ] || tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar .devcarry/final/bitcap.jar"
export BITCAP_CACHE=/tmp/bitcap-cache
# NVRTC takes minutes for the check's modules on a fresh machine: a cache brought back by an earlier call of the same
# session (its $OUT/kcache.tgz, carried as .devcarry/kcache) is unpacked first, and the cache goes back at exit.
[ -f .devcarry/kcache/kcache.tgz ] && [ ! -d $BITCAP_CACHE ] && tar xzf .devcarry/kcache/kcache.tgz -C /tmp
trap 'tar czf $OUT/kcache.tgz -C /tmp bitcap-cache 2>/dev/null' EXIT
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader >> $L
full_check() {
  step "full check"
  timeout $1 $J check --device cuda --data $D > $OUT/full-check.log 2>&1; echo "check rc $?" >> $L
  grep -E "checks,|FAIL|rror" $OUT/full-check.log | head -30 >> $L
}
kv_bench() {
  step "kv check + bench"
  timeout $1 $J check --device cuda --data $D --kv-only --kv-bench > $OUT/kvcheck.log 2>&1; echo "kv check rc $?" >> $L
  grep -E "checks|FAIL|rror" $OUT/kvcheck.log | head -20 >> $L
}
kv_peer() {
  step peer
  PYTHONUNBUFFERED=1 timeout 60 python3 bench/kv_peer.py > $OUT/kvpeer.log 2>&1; echo "peer rc $?" >> $L
}
synth_l8b() {
  step synth
  [ -d /tmp/l8b ] || timeout 60 $J synth --preset llama-3.1-8b --quant int4-asym --group 128 --out /tmp/l8b > /dev/null 2>&1
}
