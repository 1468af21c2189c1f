#!/usr/bin/env bash
# The engine benchmarks of docs/ENGINE.md (mvp-train test sources, dev.mvp.train.EngineBench; flags there):
#   tools/bench/engine.sh overhead  [--img-size 112 --batch-size 16 --steps 30 --rounds 3]   engine vs bare loop
#   tools/bench/engine.sh memory    [--steps 1000 --img-size 64 --checkpoint-every 250]      RSS over a real run
#   tools/bench/engine.sh precision [--steps 12] [--fp16 true]                               fp32 vs bf16 (or fp16) autocast
#   tools/bench/engine.sh teacher   [--batch-size 8 --reps 3 --fp16-reps 1]                  ViT-B/16 teacher: fp32, bf16, fp16
# The output states the load average before and after: the machine may be shared.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$ROOT/tools/env.sh"
cd "$ROOT"
mvn -q -B -DskipTests -pl mvp-train -am install
mvn -q -B -pl mvp-train test-compile dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile="$ROOT/mvp-train/target/bench-classpath.txt"
# shellcheck disable=SC2086
exec "$JAVA_HOME/bin/java" $MVP_JVM_FLAGS \
  -cp "mvp-train/target/test-classes:mvp-train/target/classes:$(cat mvp-train/target/bench-classpath.txt)" \
  dev.mvp.train.EngineBench "$@"
