#!/usr/bin/env bash
# Proves that `keyfolio sandbox` works with ccxt and python-okx installed in ANOTHER virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
state=src/keyfolio/sandbox/example_state.json
ext=$(mktemp -d)/venv
python3 -m venv "$ext"
"$ext/bin/pip" install --quiet --disable-pip-version-check 'ccxt>=4.5,<4.6' 'python-okx>=0.4'
make install >/dev/null
out=$(mktemp)
.venv/bin/keyfolio sandbox --state "$state" --port 0 >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.1; done
url=$(sed -n 's/^keyfolio sandbox listening on //p' "$out")
read -r key secret passphrase < <(.venv/bin/python -c "
import json; k = json.load(open('$state'))['keys'][0]; print(k['apiKey'], k['secret'], k['passphrase'])")
"$ext/bin/python" scripts/external_clients.py "$url" "$key" "$secret" "$passphrase"
