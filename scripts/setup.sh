#!/usr/bin/env bash
# One-time, idempotent set-up: Debian packages (TTS voices, real speech, ffmpeg), a virtual
# environment in .venv with the pinned Python stack, and sonicsynth installed in editable mode.
# Re-running is cheap: each step is skipped when its stamp matches what it would install.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${SONICSYNTH_VENV:-$ROOT/.venv}

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else log "need root for: $*"; return 1; fi
}

# --- Debian packages -------------------------------------------------------------------------
# main: the speech engines with known phone timings and the real recorded speech
# (fillets-ng-data holds the transcripts of the Czech clips in fillets-ng-data-cs).
APT_MAIN="espeak-ng festival flite festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox ffmpeg
          fillets-ng-data-cs fillets-ng-data pocketsphinx-testdata"
# contrib/non-free: more voices (MBROLA diphone voices give exact per-phone timings).
APT_EXTRA="mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 festvox-rablpc16k festvox-don
           rhvoice rhvoice-english libttspico-utils"

apt_missing() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  echo "${missing[@]:-}"
}

install_debian() {
  command -v apt-get >/dev/null 2>&1 || { log "no apt-get: install the TTS engines and ffmpeg by hand"; return 0; }
  # shellcheck disable=SC2086
  local missing; missing=$(apt_missing $APT_MAIN $APT_EXTRA)
  [ -z "$missing" ] && return 0
  local src=/etc/apt/sources.list.d/contrib-nonfree.sources
  if [ ! -f "$src" ] && grep -rqs bookworm /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
    log "adding Debian contrib/non-free (MBROLA, RHVoice, pico voices)"
    as_root tee "$src" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  log "apt-get install: $missing"
  as_root apt-get update -qq
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(apt_missing $APT_MAIN) >/dev/null
  # The extra voices are welcome but optional: the corpus builder uses whichever are present.
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(apt_missing $APT_EXTRA) >/dev/null \
    || log "some optional voices could not be installed; continuing with what is there"
}

# --- Python ----------------------------------------------------------------------------------
install_python() {
  local reqs=(requirements.txt)
  if command -v nvidia-smi >/dev/null 2>&1; then reqs+=(requirements-gpu.txt); fi
  local stamp; stamp=$(cat "${reqs[@]}" pyproject.toml | sha256sum | cut -c1-16)
  if [ -f "$VENV/.setup-stamp" ] && [ "$(cat "$VENV/.setup-stamp")" = "$stamp" ]; then return 0; fi
  [ -x "$VENV/bin/python" ] || { log "creating $VENV"; python3 -m venv "$VENV"; }
  log "pip install -r ${reqs[*]} (first time: a few minutes, torch is large)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r requirements.txt
  if [[ " ${reqs[*]} " == *requirements-gpu.txt* ]]; then
    # DeepSpeed builds against the installed torch, so it must not get an isolated build env.
    "$VENV/bin/python" -m pip install -q --no-build-isolation -r requirements-gpu.txt
  fi
  "$VENV/bin/python" -m pip install -q --no-deps -e .
  echo "$stamp" > "$VENV/.setup-stamp"
}

install_debian
install_python
log "ready: $VENV"
