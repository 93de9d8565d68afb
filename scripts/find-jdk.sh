# Sourced by ./bitcap and ./run-tests: sets BITCAP_JAVA_HOME to a JDK >= 25, looking at $JAVA_HOME, then the
# java on the PATH, then /usr/lib/jvm/*25*. Prints one line and exits 2 when there is none.
bitcap_java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}' | cut -d. -f1
}
bitcap_find_jdk() {
  local candidates=() j
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if j=$(command -v java 2>/dev/null); then
    j=$(readlink -f "$j"); candidates+=("$(dirname "$(dirname "$j")")")
  fi
  for j in /usr/lib/jvm/*25* /usr/lib/jvm/*; do [ -d "$j" ] && candidates+=("$j"); done
  for j in "${candidates[@]}"; do
    if [ -x "$j/bin/java" ]; then
      local major; major=$(bitcap_java_major "$j")
      if [ -n "$major" ] && [ "$major" -ge 25 ] 2>/dev/null; then BITCAP_JAVA_HOME="$j"; return 0; fi
    fi
  done
  echo "bitcap: no JDK 25 or newer found (looked at JAVA_HOME, java on the PATH, /usr/lib/jvm); install one or set JAVA_HOME" >&2
  exit 2
}
bitcap_find_jdk
