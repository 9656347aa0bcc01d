#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what is missing, builds, tests.
# The Swift tests, then the interop tests: the real binary driven by each standard's
# official client library (CloudEvents SDK, Standard Webhooks, prometheus_client, promtool,
# openapi-spec-validator, schemathesis, nats-py).
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/deps.sh python3-pip prometheus nats-server
swift build --build-tests
swift test --skip-build
if ! python3 -c 'import cloudevents.core, standardwebhooks, prometheus_client, openapi_spec_validator, schemathesis, nats, pytest, requests' 2>/dev/null; then
  pkgs=("cloudevents>=2.2" standardwebhooks prometheus_client openapi-spec-validator schemathesis nats-py pytest requests)
  python3 -m pip install -q --disable-pip-version-check "${pkgs[@]}" 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages "${pkgs[@]}"
fi
python3 -m pytest -q -p no:cacheprovider Tests/Interop
