#!/usr/bin/env bash
# Text-to-speech in the demo's cloned voice, after scripts/demo.sh (whose models it reuses):
#   [DEMO_GPT_LINES] a corpus with more text for the GPT (the demo corpus + dialogue lines)
#   -> semantic tokens of the demo corpus from the SoVITS base (into the feature cache, resumable)
#   -> [cached] a GPT base on everyone but the held-out speaker (experiment=gpt_base_demo)
#   -> the GPT fine-tuned on the speaker's minute (experiment=gpt_1min_demo)
#   -> infer.py task=tts: a new English sentence in the fine-tuned voice (prompted with a Czech
#      reference clip of the speaker and its transcript)
#   -> eval/tts_robustness.py for the base pair (GPT base + SoVITS base) and the fine-tuned pair:
#      CER/WER through pocketsphinx, speaker similarity to the reference, DNSMOS, real-time factor.
# The fine-tuned SoVITS is demo.sh's latest run, or the package given as the first argument; the
# other arguments go to the GPT fine-tuning run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
SPEAKER=fillets-v
source scripts/lib/demo_stages.sh

FINE_TUNED=${1:-$(ls -1td logs/sovits_1min_demo/runs/demo-*/package 2>/dev/null | head -1)}
if [[ -z "$FINE_TUNED" || ! -f "$FINE_TUNED/manifest.json" ]]; then
  echo "error: no fine-tuned SoVITS package (${FINE_TUNED:-none found}): run scripts/demo.sh first" >&2
  exit 1
fi
shift || true
demo_voice_models
if [[ ! -f "$BASE/package/manifest.json" ]]; then
  echo "error: the SoVITS base $BASE/package is missing: run scripts/demo.sh first" >&2
  exit 1
fi

# DEMO_GPT_LINES=<n> (-1: all, about 1,500): the GPT base also reads n lines of Fish Fillets NG's
# English dialogue, each spoken by two of the synthetic voices (data/demo_dialogue: the demo corpus
# plus those lines, built here, resumable). The demo corpus's 30 sentences teach a GPT too few texts
# to read new ones; the SoVITS models stay those of demo.sh.
GPT_CORPUS=data/demo
if [[ -n "${DEMO_GPT_LINES:-}" ]]; then
  GPT_CORPUS=data/demo_dialogue
  "$PY" scripts/build_demo_corpus.py --out "$GPT_CORPUS" --dialogue-lines "$DEMO_GPT_LINES"
  "$PY" scripts/hold_out_speaker.py "$GPT_CORPUS/manifest.jsonl" --speaker "$SPEAKER" --train-seconds 60
  stage_done "dialogue corpus"
fi
# The demo corpus's tokens too: the GPT fine-tunes on the speaker's minute of it.
for corpus in $(printf '%s\n' data/demo "$GPT_CORPUS" | sort -u); do
  "$PY" scripts/extract_semantic_tokens.py ckpt="$BASE/package" manifest="$corpus/manifest.jsonl" progress=false
done
stage_done "semantic tokens"

# DEMO_GPT_EPOCHS trains the GPT base for another number of epochs than the recipe's (part of its
# hash, as DEMO_BASE_EPOCHS is of the SoVITS base's, and as the corpus is).
TOKENS=data.features.semantic_tokens.model="$BASE/package"
GPT_OVERRIDES=("$TOKENS")
[[ "$GPT_CORPUS" != data/demo ]] && GPT_OVERRIDES+=("data.manifest=\${paths.data_dir}/${GPT_CORPUS#data/}/manifest.without-$SPEAKER.jsonl")
[[ -n "${DEMO_GPT_EPOCHS:-}" ]] && GPT_OVERRIDES+=("trainer.max_epochs=$DEMO_GPT_EPOCHS")
GPT_BASE=data/demo_models/gpt_base-$(config_hash gpt_base_demo "${GPT_OVERRIDES[@]}")
train_cached gpt_base_demo "$GPT_BASE" "${GPT_OVERRIDES[@]}"
stage_done "GPT base"

RUN=logs/gpt_1min_demo/runs/demo-$(date +%Y-%m-%d_%H-%M-%S)
"$PY" train.py experiment=gpt_1min_demo hydra.run.dir="$RUN" init_from="$GPT_BASE/package" "$TOKENS" "$@"
"$PY" -m sonicsynth.export package --best "$RUN/checkpoints/last.ckpt" "$RUN/package" >/dev/null
stage_done "GPT fine-tuning"

# The reference: the speaker's longest training clip of 3-10 s, with its transcript.
read -r REF_AUDIO REF_TEXT < <("$PY" - "data/demo/manifest.$SPEAKER.jsonl" <<'PY'
import sys
from pathlib import Path
from sonicsynth.data.manifest import read_manifest
manifest = Path(sys.argv[1])
clips = [u for u in read_manifest(manifest) if u.split == "train" and 3.0 <= u.duration <= 10.0]
best = max(clips, key=lambda u: (u.duration, u.id))
print(best.audio_file(manifest.parent), best.text)
PY
)
SENTENCE="The weather was lovely, so we walked to the station."
"$PY" infer.py task=tts gpt="$RUN/package" ckpt="$FINE_TUNED" "text=\"$SENTENCE\"" lang=en \
  ref_audio="$REF_AUDIO" "ref_text=\"$REF_TEXT\"" ref_lang=cs hydra.run.dir="$RUN/tts"
stage_done "TTS"
for pair in "base $GPT_BASE/package $BASE/package" "fine_tuned $RUN/package $FINE_TUNED"; do
  read -r name gpt sovits <<< "$pair"
  "$PY" eval/tts_robustness.py --gpt "$gpt" --sovits "$sovits" --ref-audio "$REF_AUDIO" --ref-text "$REF_TEXT" \
    --ref-lang cs --out "$RUN/tts_report/$name"
done
stage_done "TTS reports"

echo
print_stage_times
echo "TTS demo finished in $(minutes $SECONDS) min: $RUN"
echo "  GPT base:      $GPT_BASE/package (on the tokens of $BASE/package)"
echo "  GPT fine-tuned: $RUN/package"
echo "  speech:        $RUN/tts/outputs/tts.wav (+ generation_log.json)"
echo "  reports:       $RUN/tts_report/{base,fine_tuned}/report.md"
