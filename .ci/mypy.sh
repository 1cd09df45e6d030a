#!/usr/bin/env bash
# mypy (strict) on specproof.reference and specproof.proofs. The folders install under
# `specproof.*` through a package-dir mapping, so mypy reads them through a symlinked tree.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=.mypy-tree/specproof
mkdir -p "$tree"
for pkg in reference proofs engine audit dsi experiments cli; do ln -sfn "../../$pkg" "$tree/$pkg"; done
cd .mypy-tree
exec ../.venv/bin/mypy --config-file ../pyproject.toml --explicit-package-bases -p specproof.reference -p specproof.proofs -p specproof.experiments "$@"
