#!/usr/bin/env bash
# Here, before the device call: everything bench/gpu/run-all.sh needs there, in .carry/ (git-ignored).
#   .carry/{node.xz,modules.tar.xz,dist.tar.xz,debs/}  tools/device/bundle.sh (Node, node_modules, dist, Vulkan)
#   .carry/bench-tools/                                tools/make-bench-model.ts and make-bench-gguf.ts compiled
#                                                      to .js (the device runs no tsx for them), and COMMIT
# --tools-only skips the bundle (a run on this machine needs only the tools).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

if [ "${1:-}" != --tools-only ]; then
  [ -x tools/device/bundle.sh ] || { echo "build: tools/device/bundle.sh is missing: the device bundle (Node, node_modules, dist, Vulkan) comes from it" >&2; exit 1; }
  tools/device/bundle.sh
fi
rm -rf .carry/bench-tools
npx tsc -p bench/gpu/tsconfig.tools.json
dirty=$(git status --porcelain -- src | grep -q . && echo '+dirty src' || true)
echo "$(git rev-parse --short HEAD)$dirty" >.carry/bench-tools/COMMIT
echo "build: .carry/bench-tools ($(du -sh .carry/bench-tools | cut -f1)), commit $(cat .carry/bench-tools/COMMIT)"
