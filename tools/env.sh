# Sourced by ./mvp, ./run-tests and .ci/run: finds a JDK >= 25 and sets the JVM/Maven flags libtorch needs.
# JAVA_HOME is used when it points at JDK 25+; otherwise the first JDK 25+ under /usr/lib/jvm, then `java` on PATH.

mvp_jdk_major() { # prints the major version of the JDK at $1, or nothing
  local home=$1 v
  [ -x "$home/bin/java" ] || return 0
  if [ -f "$home/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release")
  else
    v=$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  fi
  echo "$v"
}

mvp_find_jdk() {
  local candidate major
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*; do
    [ -n "$candidate" ] || continue
    major=$(mvp_jdk_major "$candidate")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then echo "$candidate"; return 0; fi
  done
  if command -v java >/dev/null 2>&1; then
    candidate=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
    major=$(mvp_jdk_major "$candidate")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then echo "$candidate"; return 0; fi
  fi
  echo "mvp: no JDK 25 or newer found (JAVA_HOME=${JAVA_HOME:-unset}); install Temurin 25 or set JAVA_HOME" >&2
  return 1
}

# The JVM decodes file names and arguments with the locale's charset (sun.jnu.encoding): under C/POSIX that is ASCII
# and every non-ASCII path fails. When the locale is not UTF-8, run the JVM (./mvp, and Maven's test JVMs) under a UTF-8 locale (C.UTF-8 if there,
# else any installed UTF-8 locale; none: keep the locale as it is).
mvp_utf8_locale() {
  local charmap all l
  charmap=$(locale charmap 2>/dev/null || true)
  case "$charmap" in UTF-8|utf8|UTF8|utf-8) return 0 ;; esac
  all=$(locale -a 2>/dev/null || true)
  for l in C.UTF-8 C.utf8 en_US.UTF-8 en_US.utf8; do
    if printf '%s\n' "$all" | grep -qxF "$l"; then echo "$l"; return 0; fi
  done
  printf '%s\n' "$all" | grep -iE '\.utf-?8$' | head -1 || true
}
MVP_UTF8_LOCALE=$(mvp_utf8_locale)
if [ -n "$MVP_UTF8_LOCALE" ]; then export LC_ALL="$MVP_UTF8_LOCALE"; fi
MVP_JVM_FLAGS="--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow"
JAVA_HOME=$(mvp_find_jdk) || exit 1
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
# Maven itself runs on this JDK: silence its own sun.misc.Unsafe warnings
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
if ! command -v mvn >/dev/null 2>&1; then
  echo "mvp: Apache Maven (mvn) is needed; on Debian: apt-get install -y maven" >&2
  exit 1
fi
