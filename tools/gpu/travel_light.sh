#!/bin/bash
# The lent GPU machine takes the working tree and carried paths up to 64 MiB a call; checkpoints/ alone is 35 MB.
# `out`: copy the .keras starts that tools/gpu/runs/issue44-ferplus.txt names into .gpu/init/ (ignored, carried),
# then move checkpoints/ aside to /tmp/ferstream-checkpoints-aside; `back`: put it back (git status is clean again).
#   bash tools/gpu/travel_light.sh out && du -cb $(git ls-files) .gpu 2>/dev/null | tail -1   # must be < 67108864
#   ... the `run` call with carry [".gpu"] ...
#   bash tools/gpu/travel_light.sh back
set -eu
cd "$(dirname "$0")/../.."
ASIDE=/tmp/ferstream-checkpoints-aside
case "${1:-}" in
  out)
    [ -e "$ASIDE" ] && { echo "$ASIDE exists: run '$0 back' first" >&2; exit 2; }
    mkdir -p .gpu/init
    cp checkpoints/student-86m/ferstream-emotion.keras .gpu/init/student-86m.keras
    cp checkpoints/student-105m/ferstream-emotion.keras .gpu/init/student-105m.keras
    mv checkpoints "$ASIDE"
    echo "checkpoints/ moved to $ASIDE; starts in .gpu/init/";;
  back)
    [ -d "$ASIDE" ] || { echo "nothing aside at $ASIDE" >&2; exit 2; }
    [ -e checkpoints ] && { echo "checkpoints/ exists here: move it away before '$0 back'" >&2; exit 2; }
    mv "$ASIDE" checkpoints
    echo "checkpoints/ back";;
  *) echo "usage: $0 out|back" >&2; exit 2;;
esac
