#!/usr/bin/env bash
# Prints a Python interpreter Rasa 3.6 can run on (>=3.8,<3.11), or explains
# how to get one and fails. $PYTHON wins when set.
set -u
ok() { "$1" -c 'import sys; sys.exit(not ((3, 8) <= sys.version_info[:2] < (3, 11)))' 2>/dev/null; }
candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(10|9|8)\.[0-9]+$' | sort -t. -k2,2nr -k3,3nr); do
    candidates+=("$(pyenv root)/versions/$v/bin/python")
  done
fi
for name in python3.10 python3.9 python3.8; do
  p=$(command -v "$name" 2>/dev/null) && candidates+=("$p")
done
for c in "${candidates[@]}"; do
  if ok "$c"; then echo "$c"; exit 0; fi
done
cat >&2 <<'MSG'
Rasa Open Source 3.6 needs Python 3.8, 3.9 or 3.10, and none was found.
Install Python 3.10, then run make again, for example:
  pyenv install 3.10.13                  (with pyenv)
  sudo apt-get install python3.10-venv   (Debian/Ubuntu with 3.10 packages)
or point make at one:  make run PYTHON=/path/to/python3.10
MSG
exit 1
