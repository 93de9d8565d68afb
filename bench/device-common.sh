# Sourced by the device scripts (bench/*-next.sh) after they set L, their log under $OUT: unpacks the carried Java
# runtime once per machine, sets J (the bitcap command on the carried jar), D (the carried data) and the kernel cache,
# and defines `step NAME`, which logs the seconds since the start to $L and to the output.
T0=$(date +%s)
D=.devcarry/common/data
step() { echo "== $1 at $(( $(date +%s) - T0 )) s" | tee -a $L; }
[ -x /tmp/.jre/bin/java ] || tar xzf .devcarry/common/.jre.tgz -C /tmp
J="/tmp/.jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar .devcarry/final/bitcap.jar"
export BITCAP_CACHE=/tmp/bitcap-cache
