#!/usr/bin/env bash
# Reproducibly vendors the NL Design System CSS and the Socket.IO client into static/vendor/.
# Versions are pinned in package.json and package-lock.json; run after changing either, then commit static/vendor.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --silent
out=static/vendor
rm -rf "$out" && mkdir -p "$out"
cp node_modules/@utrecht/component-library-css/dist/index.css "$out/utrecht-component-library.css"
cp node_modules/@utrecht/design-tokens/dist/theme.css "$out/utrecht-design-tokens.css"
cp node_modules/socket.io-client/dist/socket.io.min.js "$out/socket.io.min.js"
for pkg in @utrecht/component-library-css @utrecht/design-tokens socket.io-client; do
  version=$(node -p "require('./node_modules/$pkg/package.json').version")
  license=$(node -p "require('./node_modules/$pkg/package.json').license")
  echo "$pkg $version $license"
done > "$out/VERSIONS.txt"
cp node_modules/@utrecht/component-library-css/LICENSE.md "$out/LICENSE-utrecht.md" 2>/dev/null || true
echo "vendored into $out:"; cat "$out/VERSIONS.txt"
