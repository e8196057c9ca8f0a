#!/usr/bin/env bash
# Rewrites the console screenshots in docs/img/ from the demo organisation,
# through headless Chromium (apt-get install -y chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
go test ./internal/console -run '^TestScreenshots$' -count=1 -screenshots "$PWD/docs/img"
ls -l docs/img/console-*.png
