#!/usr/bin/env bash
# The main job on the embedded demo data, from a fresh machine: few-shot voice cloning.
#   set up (first run only) -> build the demo corpus (resumable) -> hold the Czech speaker
#   fillets-v out of it (one minute to fine-tune on, its val/test sentences to score)
#   -> [cached] a CTC phone recogniser as the content model (experiment=aligner_content_demo)
#   -> content features into the feature cache
#   -> [cached] a small base SoVITS pretrained without that speaker (experiment=sovits_base_demo)
#   -> fine-tune on the minute (experiment=sovits_1min_demo, the best epoch by held-out speaker similarity)
#   -> resynthesise the speaker's test sentences with base and fine-tuned models and report
#      speaker similarity, DNSMOS and mel distance (eval/few_shot_report.py).
# The cached models live in data/demo_models/<stage>-<hash of the composed config that makes them>:
# a config change trains them again; an interrupted stage resumes from its last checkpoint.
# Extra arguments go to the fine-tuning run, e.g. `bash scripts/demo.sh trainer.max_epochs=4`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python
SPEAKER=fillets-v

"$PY" scripts/build_demo_corpus.py --out data/demo
"$PY" scripts/hold_out_speaker.py data/demo/manifest.jsonl --speaker "$SPEAKER" --train-seconds 60

# A short hash of experiment $1's composed config (with the overrides that follow it); comments and
# file layout do not count, every value does.
config_hash() { "$PY" train.py "experiment=$1" "${@:2}" --cfg job | sha256sum | cut -c1-10; }

# Train experiment $1 into run directory $2 (resuming an interrupted run) and export its package.
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

CONTENT=data/demo_models/content-$(config_hash aligner_content_demo)
train_cached aligner_content_demo "$CONTENT"
"$PY" scripts/prepare_features.py manifest=data/demo/manifest.jsonl features=ctc_content \
  features.ctc_content.model="$CONTENT/package"

CONTENT_FEATURES=data.features.ctc_content.model="$CONTENT/package"
BASE=data/demo_models/sovits_base-$(config_hash sovits_base_demo "$CONTENT_FEATURES")
train_cached sovits_base_demo "$BASE" "$CONTENT_FEATURES"

RUN=logs/sovits_1min_demo/runs/demo-$(date +%Y-%m-%d_%H-%M-%S)
"$PY" train.py experiment=sovits_1min_demo hydra.run.dir="$RUN" init_from="$BASE/package" \
  "$CONTENT_FEATURES" "$@"
"$PY" -m sonicsynth.export package --best "$RUN/checkpoints/last.ckpt" "$RUN/package" >/dev/null
"$PY" eval/few_shot_report.py --model base="$BASE/package" --model fine_tuned="$RUN/package" \
  --manifest "data/demo/manifest.$SPEAKER.jsonl" --split test --out "$RUN/report"

echo
echo "demo finished: $RUN"
echo "  base model:    $BASE/package (content model $CONTENT/package)"
echo "  fine-tuned:    $RUN/package (the best epoch by held-out speaker similarity; checkpoints in $RUN/checkpoints)"
echo "  report:        $RUN/report/report.md (+ report.json, resynthesised wavs)"
echo "  resynthesise:  .venv/bin/python infer.py task=resynth ckpt=$RUN/package input=<wav> text='<its transcript>' lang=cs ref_audio='<3-10 s wav of the voice>'"
echo "  tensorboard:   .venv/bin/tensorboard --logdir $RUN/tensorboard"
