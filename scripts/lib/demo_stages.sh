# Shared by scripts/demo.sh and scripts/demo_tts.sh (sourced, from the repository root, with PY set):
# stage timing, cached training stages, and where the cached demo models live.

# Wall time of each stage, printed by print_stage_times.
TIMES=()
minutes() { awk -v s="$1" 'BEGIN { printf "%.1f", s / 60 }'; }
stage_done() { TIMES+=("$(printf '%-18s %5s min' "$1" "$(minutes $((SECONDS - ${STAGE_START:-0})))")"); STAGE_START=$SECONDS; }
print_stage_times() { printf '%s\n' "${TIMES[@]}"; }

# A short hash of experiment $1's composed config (with the overrides that follow it); comments and
# file layout do not count, every value does.
config_hash() { "$PY" train.py "experiment=$1" "${@:2}" --cfg job | sha256sum | cut -c1-10; }

# Train experiment $1 into run directory $2 (resuming an interrupted run) and export its package;
# nothing to do when the package is there.
train_cached() {
  local experiment=$1 dir=$2
  shift 2
  if [[ -f "$dir/package/manifest.json" ]]; then
    echo "cached: $dir/package"
    return
  fi
  local resume=()
  [[ -f "$dir/run/checkpoints/last.ckpt" ]] && resume=("ckpt_path=$dir/run/checkpoints/last.ckpt")
  "$PY" train.py "experiment=$experiment" hydra.run.dir="$dir/run" "${resume[@]}" "$@"
  "$PY" -m sonicsynth.export package "$dir/run/checkpoints/last.ckpt" "$dir/package" >/dev/null
}

# The cached voice models of the demo: data/demo_models/<stage>-<hash of the config that makes it>.
# Sets CONTENT (the CTC content model), CONTENT_FEATURES (the override that points SoVITS at its
# features), BASE_OVERRIDES (how the SoVITS base is trained) and BASE (the SoVITS base), whether or
# not they are trained yet. DEMO_BASE_EPOCHS trains the base for another number of epochs than the
# recipe's 15 (intelligibility keeps improving with more: see the README); it is part of BASE's
# hash, so demo.sh and demo_tts.sh given the same value share one base.
demo_voice_models() {
  CONTENT=data/demo_models/content-$(config_hash aligner_content_demo)
  CONTENT_FEATURES=data.features.ctc_content.model="$CONTENT/package"
  BASE_OVERRIDES=("$CONTENT_FEATURES")
  [[ -n "${DEMO_BASE_EPOCHS:-}" ]] && BASE_OVERRIDES+=("trainer.max_epochs=$DEMO_BASE_EPOCHS")
  BASE=data/demo_models/sovits_base-$(config_hash sovits_base_demo "${BASE_OVERRIDES[@]}")
}
