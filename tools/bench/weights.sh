#!/usr/bin/env bash
# The weight-loading benchmark: open a ViT-B/16-sized safetensors file (generated in /tmp, ~343 MB) and have its
# first tensor usable, page cache warm, with the memory it costs (mvp-bench, dev.mvp.bench.WeightLoadingBench).
#   tools/bench/weights.sh                                   the figures of docs/BENCHMARKS.md, section Weight loading
#   tools/bench/weights.sh --processes 3 --repeats 10 [--file /tmp/x.safetensors] [--regenerate]
# Run it on an idle machine: the output states the load average before and after.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$ROOT/tools/env.sh"
cd "$ROOT"
mvn -q -B -DskipTests -pl mvp-bench -am package
# shellcheck disable=SC2086
exec "$JAVA_HOME/bin/java" $MVP_JVM_FLAGS -cp "mvp-bench/target/mvp-bench.jar:mvp-bench/target/lib/*" \
  dev.mvp.bench.WeightLoadingBench "$@"
