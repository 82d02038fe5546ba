#!/usr/bin/env bash
# Prints the path of a Python 3.12 interpreter: python3.12 on PATH, else pyenv's, else ~/.pyenv's.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' 2>/dev/null; }
for c in "${PYTHON312:-}" "$(command -v python3.12 2>/dev/null)"; do
  [ -n "$c" ] && ok "$c" && { echo "$c"; exit 0; }
done
roots=()
command -v pyenv >/dev/null 2>&1 && roots+=("$(pyenv root)")
roots+=("${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv /opt/pyenv)
for r in "${roots[@]}"; do
  [ -n "$r" ] || continue
  for c in "$r"/versions/3.12*/bin/python3.12; do
    [ -x "$c" ] && ok "$c" && { echo "$c"; exit 0; }
  done
done
for c in /usr/bin/python3.12 /usr/local/bin/python3.12; do
  [ -x "$c" ] && ok "$c" && { echo "$c"; exit 0; }
done
echo "error: Python 3.12 not found (install it, e.g. 'pyenv install 3.12', or set PYTHON312=/path/to/python3.12)" >&2
exit 1
