#!/usr/bin/env bash
# Install the front-end files the dashboard's browser page loads (Solara's page, RequireJS,
# Font Awesome, the grid layout) from the npm registry into the folder where Solara looks for
# them before any CDN: PREFIX/share/solara/cdn/<package>@<version>/. After this the dashboard
# runs offline; nothing is fetched at run time.
#
#   scripts/install_dashboard_assets.sh [PYTHON]     (default: .venv/bin/python)
set -euo pipefail
python="${1:-.venv/bin/python}"
prefix="$("$python" -c 'import sys; print(sys.prefix)')"
cdn="$prefix/share/solara/cdn"
packages=(
    "@widgetti/solara-vuetify-app@10.1.1"
    "requirejs@2.3.6"
    "font-awesome@4.5.0"
    "@widgetti/vue-grid-layout@2.3.13-alpha.2"
)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for package in "${packages[@]}"; do
    target="$cdn/$package"
    if [ -f "$target/package.json" ]; then
        continue  # installed already
    fi
    tarball="$(cd "$work" && npm pack --silent "$package" | tail -n 1)"
    mkdir -p "$work/unpacked" && rm -rf "$work/unpacked/package"
    tar -xzf "$work/$tarball" -C "$work/unpacked"
    mkdir -p "$(dirname "$target")"
    rm -rf "$target"
    mv "$work/unpacked/package" "$target"
    echo "installed $package into $target"
done
