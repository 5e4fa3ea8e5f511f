#!/usr/bin/env bash
# The face-motion demo on the embedded demo data, from a fresh machine:
#   set up (first run only) -> build the demo corpus (resumable)
#   -> the synthetic audio-visual corpus: exact face motion of each MBROLA / festival utterance,
#      performed by a drawn face, one identity per voice (scripts/build_synthetic_av.py, resumable)
#   -> [cached] a SyncNet trained on it, for LSE-D / LSE-C (experiment=syncnet_synthetic)
#   -> the audio-to-blendshape predictor (experiment=a2bs_synthetic; mbrola-us3 never trains)
#   -> eval/face_motion_report.py on the held-out test sentences (seen voices and the unseen one,
#      with LSE of the preview videos of truth, prediction and the prediction 10 frames late)
#   -> eval/bench_face_streaming.py (streaming against offline, per-chunk CPU time)
#   -> infer.py task=a2bs on an unseen-voice sentence (JSON, Live Link CSV, PNG, preview MP4).
# Extra arguments go to the predictor's training run, e.g. `bash scripts/demo_face.sh trainer.max_epochs=10`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
source scripts/lib/demo_stages.sh

bash scripts/setup.sh
stage_done "set-up"
"$PY" scripts/build_demo_corpus.py --out data/demo
"$PY" scripts/build_synthetic_av.py --out data/synthetic_av
stage_done "AV corpus"

SYNCNET=data/demo_models/syncnet-$(config_hash syncnet_synthetic)
train_cached syncnet_synthetic "$SYNCNET"
stage_done "SyncNet"

RUN=logs/a2bs_synthetic/runs/demo-$(date +%Y-%m-%d_%H-%M-%S)
"$PY" train.py experiment=a2bs_synthetic hydra.run.dir="$RUN" "$@"
BEST=$("$PY" - "$RUN/checkpoints/last.ckpt" <<'PY'
import sys
from sonicsynth.export.from_checkpoint import best_checkpoint
print(best_checkpoint(sys.argv[1]))
PY
)
"$PY" -m sonicsynth.export package "$BEST" "$RUN/package" >/dev/null
stage_done "predictor"

"$PY" eval/face_motion_report.py --ckpt "$BEST" --syncnet "$SYNCNET/package" --out "$RUN/report" > /dev/null
"$PY" eval/bench_face_streaming.py --ckpt "$BEST" > "$RUN/report/streaming.json"
stage_done "reports"

# A test sentence of the unseen voice, its transcript with one emphasis marked for the pose refinement.
"$PY" infer.py task=a2bs ckpt="$RUN/package" audio=data/demo/wavs/mbrola-us3/mbrola-us3-001.wav face.style=news_anchor \
  "text='Would you mind closing the *window* before the thunderstorm reaches the harbor?'" hydra.run.dir="$RUN/infer"
stage_done "a2bs inference"

echo
print_stage_times
echo "face demo finished in $(minutes $SECONDS) min: $RUN"
echo "  predictor: $RUN/package (best epoch: $BEST)"
echo "  SyncNet:   $SYNCNET/package"
echo "  report:    $RUN/report/face_motion_report.json, streaming.json"
echo "  outputs:   $RUN/infer/outputs/"
