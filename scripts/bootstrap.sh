#!/usr/bin/env bash
# Installs partner-ledger into ./.venv from the lock file: a fresh machine needs only Python 3.11
# and the package registries. Safe to run again (it reuses the venv and installs what changed).
set -euo pipefail
cd "$(dirname "$0")/.."
python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
    "$python_bin" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
.venv/bin/uv pip install --quiet -p .venv/bin/python -r requirements.lock
.venv/bin/uv pip install --quiet -p .venv/bin/python --no-deps -e .
# Compile the installed packages' bytecode once per lock file. uv installs without it, and where
# PYTHONDONTWRITEBYTECODE is set Python never writes it either: every run, dbt call and test
# process would compile dbt, Prefect and Great Expectations from source again (about 5.5
# CPU-seconds per process that imports them; docs/decisions/0012). About 30 CPU-seconds, once.
stamp=".venv/.bytecode-$(sha256sum requirements.lock | cut -c1-16)"
if [ ! -e "$stamp" ]; then
    site_packages="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    if .venv/bin/python -m compileall -q -j 0 "$site_packages" >/dev/null; then
        touch "$stamp"
    else
        echo "bootstrap: some installed files could not be compiled; Python compiles them when imported" >&2
    fi
fi
# partner-ledger's own modules as well, each time (well under a second): where
# PYTHONDONTWRITEBYTECODE is set, every process compiled its 47 modules from source again. A
# module edited since is compiled again when imported, as Python always does.
.venv/bin/python -m compileall -q partner_ledger flows >/dev/null ||
    echo "bootstrap: partner-ledger's modules could not all be compiled" >&2
