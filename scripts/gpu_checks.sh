#!/usr/bin/env bash
# The voice side's GPU measurements, on a CUDA machine, each as JSON in <out dir>:
#   gpt_<dtype>_b<batch>.json  published-size GPT decoding with and without the key/value cache
#                              (float32 and bfloat16 at batch 1, float32 at batch 8; random weights)
#   tts_prompted.json          end-to-end TTS of a trained GPT + SoVITS pair, stage by stage
#   tts_reference_free.json    (eval/bench_tts.py), when the pair is given
# and the CPU's figures for the same pair beside them (tts_*_cpu.json), for the ratio.
#
#   bash scripts/gpu_checks.sh <out dir> [<GPT package> <SoVITS package> <ref wav> "<ref text>" <ref lang> [<content model>]]
#
# e.g. after scripts/demo_tts.sh: its GPT base, the SoVITS base and an English clip of the corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${1:?usage: bash scripts/gpu_checks.sh <out dir> [<GPT> <SoVITS> <ref wav> "<ref text>" <ref lang> [<content model>]]}
mkdir -p "$OUT"
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'error: no CUDA device visible to torch')"

for spec in "float32 1" "bfloat16 1" "float32 8"; do
  read -r dtype batch <<< "$spec"
  "$PY" eval/bench_gpt_decoding.py --device cuda --dtype "$dtype" --batch "$batch" --new-tokens 500 \
    --out "$OUT/gpt_${dtype}_b$batch.json" > /dev/null
done

if [[ $# -ge 6 ]]; then
  pair=(--gpt "$2" --sovits "$3" --ref-audio "$4" --runs 2)
  [[ $# -ge 7 ]] && pair+=(--content-model "$7")
  for device in cuda cpu; do
    suffix=$([[ $device == cpu ]] && echo _cpu || true)
    "$PY" eval/bench_tts.py "${pair[@]}" --ref-text "$5" --ref-lang "$6" --device $device \
      --out "$OUT/tts_prompted$suffix.json" > /dev/null
    "$PY" eval/bench_tts.py "${pair[@]}" --device $device --out "$OUT/tts_reference_free$suffix.json" > /dev/null
  done
fi

"$PY" - "$OUT" <<'PY'
import json, sys
from pathlib import Path
for path in sorted(Path(sys.argv[1]).glob("*.json")):
    r = json.loads(path.read_text())
    if r["benchmark"] == "gpt_decoding":
        print(f"{path.stem:24s} cached {r['kv_cache']['tokens_per_second']:8.1f} tok/s, recomputed "
              f"{r['no_cache']['tokens_per_second']:8.1f} tok/s (x{r['speedup']:.1f}), same tokens: {r['tokens_equal']}")
    else:
        print(f"{path.stem:24s} real-time factor {r['real_time_factor']:.3f}, GPT {r['gpt_tokens_per_second']:.0f} tok/s, "
              f"first audio {r['first_audio_sec']:.2f} s, shares {({k: round(v, 2) for k, v in r['stage_share'].items()})}")
PY
