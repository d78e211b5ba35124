#!/bin/sh
# Regenerate the screenshots in docs/images/ from examples/composites/pipeline.py:
#   docs/images/pictures-graph.png   (runnable graph)
#   docs/images/pictures-report.png  (runnable runs show --html)
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
set -- $(svg_size report.html timeline)
shot report.html "$root/docs/images/pictures-report.png" $(( $1 + 120 )) $(( $2 + 420 ))
