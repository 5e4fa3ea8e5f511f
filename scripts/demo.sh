#!/usr/bin/env bash
# The main job on the embedded demo data, from a fresh machine:
#   set up (first run only) -> build the demo corpus (resumable) -> train the HiFi-GAN vocoder
#   (experiment=hifigan_demo, 10 CPU minutes by default) -> export a verified package ->
#   vocode the held-out test utterances and write a metrics report.
# Extra arguments go to train.py, e.g. `bash scripts/demo.sh trainer.max_time=00:00:03:00`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python

"$PY" scripts/build_demo_corpus.py --out data/demo

RUN=logs/hifigan_demo/runs/demo-$(date +%Y-%m-%d_%H-%M-%S)
"$PY" train.py experiment=hifigan_demo hydra.run.dir="$RUN" "$@"
"$PY" -m sonicsynth.export package "$RUN/checkpoints/last.ckpt" "$RUN/package" >/dev/null
"$PY" eval/vocoder_report.py ckpt="$RUN/package" manifest=data/demo/manifest.jsonl split=test hydra.run.dir="$RUN/report"

echo
echo "demo finished: $RUN"
echo "  checkpoints:   $RUN/checkpoints (resume: python train.py experiment=hifigan_demo ckpt_path=$RUN/checkpoints/last.ckpt)"
echo "  package:       $RUN/package"
echo "  report:        $RUN/report/report.md (+ report.json, PNG figures, vocoded wavs)"
echo "  tensorboard:   .venv/bin/tensorboard --logdir $RUN/tensorboard"
