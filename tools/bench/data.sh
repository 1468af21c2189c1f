#!/usr/bin/env bash
# The data benchmarks of docs/DATA.md, Java and Python side by side on the same files and core count:
#   1. decoders: PIL's decode (reference pixels and speed), then mvp-bench DecoderBench (JDK ImageIO,
#      TwelveMonkeys, Commons Imaging, libjpeg-turbo) for speed and exactness against PIL;
#   2. the input pipeline: tools/bench/data_pipeline.py (torchvision + PIL, DataLoader with 0 and 2 workers), then
#      mvp-bench LoaderBench (BatchLoader with 1 and 2 worker threads), one view and MVP's two views.
#   tools/bench/data.sh [image folder]        default ../shared/data/imagenet-sample
# Run it on an idle machine (it prints the load average before and after); takes about 10 minutes on 2 cores.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$ROOT/tools/env.sh"
cd "$ROOT"
DATA="${1:-$ROOT/../shared/data/imagenet-sample}"
REF="${TMPDIR:-/tmp}/mvp-pil-ref"
PY=/usr/bin/python3
mvn -q -B -DskipTests -pl mvp-bench -am package
CP="mvp-bench/target/mvp-bench.jar:mvp-bench/target/lib/*"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== decoders"
"$PY" tools/bench/pil_decode.py "$DATA" "$REF" --threads 2
# shellcheck disable=SC2086
"$JAVA_HOME/bin/java" $MVP_JVM_FLAGS -cp "$CP" dev.mvp.bench.DecoderBench --data "$DATA" --reference "$REF"
echo "== input pipeline"
"$PY" tools/bench/data_pipeline.py "$DATA" --workers 0,2 --views 1
"$PY" tools/bench/data_pipeline.py "$DATA" --workers 0,2 --views 2
# shellcheck disable=SC2086
"$JAVA_HOME/bin/java" $MVP_JVM_FLAGS -cp "$CP" dev.mvp.bench.LoaderBench --data "$DATA" --decoder auto,imageio
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
