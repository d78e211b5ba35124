#!/bin/sh
# Regenerate the screenshots in docs/images/ from examples/composites/pipeline.py and a 1,000-item map:
#   docs/images/pictures-graph.png       (runnable graph)
#   docs/images/pictures-report.png      (runnable runs show --html)
#   docs/images/pictures-graph-run.png   (runnable graph --run: the map run's statuses)
#   docs/images/pictures-report-map.png  (runnable runs show --html of the map run, two items failed)
#
# Needs headless Chromium (Debian/Ubuntu: apt-get install -y chromium) and the runnable CLI:
#   RUNNABLE=/path/to/venv/bin/runnable scripts/screenshot_pictures.sh
# The pipeline runs in a scratch folder; nothing else in the repository is touched.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
runnable=${RUNNABLE:-runnable}
chromium=${CHROMIUM:-chromium}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp -r "$root/examples" "$work/examples"
cd "$work"
"$runnable" execute examples/composites/pipeline.py --run-id composites-example >/dev/null
"$runnable" graph examples/composites/pipeline.py -o graph.html
"$runnable" runs show composites-example --html report.html

# A 1,000-item map where two items fail: the report must stay readable.
cat > bigtasks.py <<'PY'
def prepare():
    with open("data.csv", "w") as out:
        out.write("x\n" + "\n".join(str(i) for i in range(100)) + "\n")
    return list(range(1000))


def fit(item: int) -> float:
    if item in (17, 512):
        raise ValueError(f"item {item} diverged")
    return 1 / (1 + item / 100)


def summarise(loss: list) -> float:
    return sum(loss) / len(loss)
PY
cat > big.yaml <<'YAML'
name: big-map
dag:
  start_at: prepare
  steps:
    prepare: {type: task, command: bigtasks.prepare, returns: [items], catalog: {put: [data.csv]}, next: train}
    train:
      type: map
      iterate_on: items
      iterate_as: item
      next: summarise
      branch:
        start_at: fit
        steps:
          fit: {type: task, command: bigtasks.fit, returns: [{name: loss, kind: metric}], next: success}
    summarise: {type: task, command: bigtasks.summarise, returns: [{name: mean_loss, kind: metric}], next: success}
YAML
"$runnable" execute big.yaml --run-id big-map-run >/dev/null 2>&1 || true  # it fails, on purpose
"$runnable" graph big.yaml --run big-map-run -o big-graph.html
"$runnable" runs show big-map-run --html big-report.html

# The size of an SVG in a page, from its width="..." height="..." attributes.
svg_size() { grep -o "class=\"$2\" width=\"[0-9.]*\" height=\"[0-9.]*\"" "$1" | grep -o '[0-9][0-9.]*' | cut -d. -f1; }

shot() { # page, png, window width, window height
  "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$work/profile" --window-size="$3,$4" --screenshot="$2" "file://$work/$1" 2>/dev/null
  echo "wrote $2 ($(wc -c <"$2") bytes, $3x$4)"
}

mkdir -p "$root/docs/images"
set -- $(svg_size graph.html runnable-graph)
width=$(( $1 + 120 )); [ "$width" -lt 900 ] && width=900
shot graph.html "$root/docs/images/pictures-graph.png" "$width" $(( $2 + 190 ))
set -- $(svg_size report.html runnable-graph) $(svg_size report.html timeline)
shot report.html "$root/docs/images/pictures-report.png" $(( $3 + 120 )) $(( $2 + $4 + 760 ))
set -- $(svg_size big-graph.html runnable-graph)
shot big-graph.html "$root/docs/images/pictures-graph-run.png" 900 $(( $2 + 190 ))
shot big-report.html "$root/docs/images/pictures-report-map.png" 1300 1900
