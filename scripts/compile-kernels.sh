#!/usr/bin/env bash
# Compiles every CUDA kernel resource with nvcc for Hopper (sm_90a), once per variant listed on the file's first
# line ("// variants: -DX=1 | -DX=2"), so that a kernel that does not compile fails the build. Run by `mvn verify`
# (exec-maven-plugin in pom.xml) with --if-nvcc: then a machine without nvcc on the PATH skips with one line.
# Usage: scripts/compile-kernels.sh [--if-nvcc] [kernel folder] [out folder]
set -euo pipefail
if [ "${1:-}" = "--if-nvcc" ]; then
  shift
  command -v nvcc >/dev/null || { echo "compile-kernels: nvcc is not on the PATH; CUDA kernels not compiled"; exit 0; }
fi
src=${1:-src/main/resources/dev/bitcap/cuda}
out=${2:-target/nvcc}
mkdir -p "$out"
shopt -s nullglob
files=("$src"/*.cu)
[ ${#files[@]} -gt 0 ] || { echo "compile-kernels: no .cu files under $src" >&2; exit 1; }
failed=0
for f in "${files[@]}"; do
  name=$(basename "$f" .cu)
  first=$(head -1 "$f")
  variants=${first#// variants:}
  [ "$variants" != "$first" ] || { echo "compile-kernels: $f does not start with '// variants: ...'" >&2; failed=1; continue; }
  IFS='|' read -ra list <<< "$variants"
  i=0
  for v in "${list[@]}"; do
    read -ra defines <<< "$v"
    if ! nvcc -gencode=arch=compute_90a,code=sm_90a -cubin -std=c++17 -Werror all-warnings "${defines[@]}" \
        -o "$out/$name-$i.cubin" -x cu "$f"; then
      echo "compile-kernels: $f ($v) does not compile" >&2
      failed=1
    fi
    i=$((i + 1))
  done
  echo "compile-kernels: $name.cu, ${#list[@]} variant(s)"
done
exit $failed
