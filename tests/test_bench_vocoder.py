"""The vocoder benchmark runs end to end (tiny settings) and reports sane, consistent numbers."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "eval" / "bench_vocoder.py"


def test_quick_benchmark_reports_every_back_end(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_vocoder", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = bench.main(["--quick", "--out", str(tmp_path / "bench.json")])

    cpu = report["inference"]["tiny"]["cpu"]
    assert set(cpu) == {"eager_weight_norm", "eager_folded", "onnxruntime"}
    for entry in cpu.values():
        assert math.isfinite(entry["rtf"]) and entry["rtf"] > 0
        assert abs(entry["x_realtime"] * entry["rtf"] - 1) < 1e-9
        assert entry["max_abs_difference_vs_eager"] < 1e-4
    assert report["training"]["steps_per_sec"] > 0
    assert (tmp_path / "bench.json").read_text().startswith("{")
