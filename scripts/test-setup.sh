#!/usr/bin/env bash
# Installs what the test suite needs beyond Python packages: Debian's Chromium (browser
# end-to-end test), a PostgreSQL server (storage test), nginx (the reverse-proxy tests) and
# docker-compose (validates the compose file), plus checkov in its own virtual environment
# (.venv-tools/checkov: its pinned dependencies conflict with the project's). Each is optional: a test whose
# tool is missing skips with a clear reason, so a failure here only prints a warning.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test setup: installing ${need[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}") >/tmp/genrekit-test-setup.log 2>&1 \
      || echo "test setup: warning: could not install ${need[*]} (see /tmp/genrekit-test-setup.log); those tests will skip"
  else
    echo "test setup: warning: ${need[*]} missing and cannot be installed here; those tests will skip"
  fi
fi
# The original musicnn wheel (from PyPI) lets the converter test check the committed weights
# bit for bit against the TensorFlow checkpoints; without it that one test skips.
wheel_dir=.cache/musicnn-wheel
if [ ! -f "$wheel_dir/musicnn-0.1.0-py3-none-any.whl" ]; then
  .venv/bin/python -m pip download --quiet --no-deps musicnn==0.1.0 -d "$wheel_dir" >/dev/null 2>&1 \
    || echo "test setup: warning: could not download the musicnn wheel; the converter's wheel test will skip"
fi
# checkov scans the Kubernetes manifests; without it that one test skips.
tools=.venv-tools/checkov
if [ ! -x "$tools/bin/checkov" ]; then
  echo "test setup: installing checkov into $tools"
  (python3.11 -m venv "$tools" && "$tools/bin/python" -m pip install --quiet "checkov>=3.2") >/tmp/genrekit-test-setup-checkov.log 2>&1 \
    || echo "test setup: warning: could not install checkov (see /tmp/genrekit-test-setup-checkov.log); the checkov test will skip"
fi
# openapi-python-client generates a typed client from /openapi.json for the contract test; it
# lives in its own venv (its pins clash with the app's); without it that test skips.
generator=.cache/openapi-client
if [ ! -x "$generator/bin/openapi-python-client" ]; then
  echo "test setup: installing openapi-python-client into $generator"
  (python3.11 -m venv "$generator" && "$generator/bin/python" -m pip install --quiet "openapi-python-client>=0.29,<0.30") >/tmp/genrekit-test-setup-openapi.log 2>&1 \
    || echo "test setup: warning: could not install openapi-python-client (see /tmp/genrekit-test-setup-openapi.log); the generated-client test will skip"
fi
exit 0
