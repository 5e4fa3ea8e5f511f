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
# DEMO_BASE_EPOCHS=30 bash scripts/demo.sh trains a longer base (about 1.2 CPU minutes an epoch on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
SPEAKER=fillets-v
source scripts/lib/demo_stages.sh  # stage timing, cached training stages, the demo models' places

bash scripts/setup.sh
stage_done "set-up"

"$PY" scripts/build_demo_corpus.py --out data/demo
"$PY" scripts/hold_out_speaker.py data/demo/manifest.jsonl --speaker "$SPEAKER" --train-seconds 60
stage_done "demo corpus"

demo_voice_models  # CONTENT, CONTENT_FEATURES, BASE_OVERRIDES, BASE
train_cached aligner_content_demo "$CONTENT"
stage_done "content model"
"$PY" scripts/prepare_features.py manifest=data/demo/manifest.jsonl features=ctc_content \
  features.ctc_content.model="$CONTENT/package"
stage_done "content features"

train_cached sovits_base_demo "$BASE" "${BASE_OVERRIDES[@]}"
stage_done "SoVITS base"

RUN=logs/sovits_1min_demo/runs/demo-$(date +%Y-%m-%d_%H-%M-%S)
"$PY" train.py experiment=sovits_1min_demo hydra.run.dir="$RUN" init_from="$BASE/package" \
  "$CONTENT_FEATURES" "$@"
"$PY" -m sonicsynth.export package --best "$RUN/checkpoints/last.ckpt" "$RUN/package" >/dev/null
stage_done "fine-tuning"
"$PY" eval/few_shot_report.py --model base="$BASE/package" --model fine_tuned="$RUN/package" \
  --manifest "data/demo/manifest.$SPEAKER.jsonl" --split test --out "$RUN/report"
stage_done "report"

echo
print_stage_times
echo "demo finished in $(minutes $SECONDS) min: $RUN"
echo "  base model:    $BASE/package (content model $CONTENT/package)"
echo "  fine-tuned:    $RUN/package (the best epoch by held-out speaker similarity; checkpoints in $RUN/checkpoints)"
echo "  report:        $RUN/report/report.md (+ report.json, resynthesised wavs)"
echo "  resynthesise:  .venv/bin/python infer.py task=resynth ckpt=$RUN/package input=<wav> text='<its transcript>' lang=cs ref_audio='<3-10 s wav of the voice>'"
echo "  tensorboard:   .venv/bin/tensorboard --logdir $RUN/tensorboard"
echo "  next:          bash scripts/demo_tts.sh  (a GPT on these models: English text in the cloned voice)"
