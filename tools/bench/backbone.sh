#!/usr/bin/env bash
# The backbone benchmark: forward+backward time and peak memory of ViT-Ti/16 and ViT-B/16, this library against
# Debian's python3-torch running timm's ViT, side by side (mvp-bench, dev.mvp.bench.BackboneBench; flags there).
#   tools/bench/backbone.sh                       the figures of docs/BENCHMARKS.md, section Backbone
#   tools/bench/backbone.sh --models tiny --rounds 1 --steps 3
# Run it on an idle machine: the output states the load average before and after each model.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$ROOT/tools/env.sh"
cd "$ROOT"
mvn -q -B -DskipTests -pl mvp-bench -am package
# shellcheck disable=SC2086
exec "$JAVA_HOME/bin/java" $MVP_JVM_FLAGS -cp "mvp-bench/target/mvp-bench.jar:mvp-bench/target/lib/*" \
  dev.mvp.bench.BackboneBench "$@"
