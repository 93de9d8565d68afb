#!/usr/bin/env bash
# First call of the next session: the whole `bitcap check --device cuda` (the kernel cache's manifest, when a cache is
# carried as .devcarry/kcache, is compiled side by side first), then the split-model rows `check --device cuda
# --parallel` (CudaRankForward now reads q/k/v and gate/up as row views of stacked matrices: not yet run on a GPU).
# Carry [".devcarry/common", ".devcarry/final"] and, if present, ".devcarry/kcache"; logs under $OUT.
L=$OUT/run.log
. bench/device-common.sh
full_check ${CHECK_S:-480}
step "parallel rows"
timeout ${PARALLEL_S:-120} $J check --device cuda --data $D --parallel > $OUT/parallel-check.log 2>&1; echo "parallel check rc $?" >> $L
grep -E "checks,|FAIL|rror" $OUT/parallel-check.log | head -20 >> $L
step done
cat $L
