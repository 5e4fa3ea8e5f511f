"""Face-motion files: our JSON round-trips bit-exactly, the Live Link Face CSV has the app's layout and
reads back (our own files and a take written by hand in the app's layout), plots are PNGs of the
promised size, and bad input fails with errors that name the file and the problem, leaving no file.
"""

from __future__ import annotations

import json
import struct
import warnings

import numpy as np
import pytest

from sonicsynth.models.face.blendshapes import ARKIT_BLENDSHAPES, FaceMotion, blendshape_index
from sonicsynth.models.face.motion_io import (
    ARKIT_TO_LIVE_LINK,
    DEFAULT_PLOT_CHANNELS,
    LIVE_LINK_BLENDSHAPE_COUNT,
    LIVE_LINK_HEADER,
    MotionFileError,
    format_timecode,
    parse_timecode,
    plot_motion,
    plot_size_pixels,
    read_live_link_csv,
    read_motion_json,
    write_live_link_csv,
    write_motion_json,
)

# The header of a take recorded by the Live Link Face app, typed out from the documented layout.
DOCUMENTED_HEADER = (
    "Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,EyeLookUpLeft,"
    "EyeSquintLeft,EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,EyeLookOutRight,EyeLookUpRight,"
    "EyeSquintRight,EyeWideRight,JawForward,JawRight,JawLeft,JawOpen,MouthClose,MouthFunnel,MouthPucker,"
    "MouthRight,MouthLeft,MouthSmileLeft,MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,"
    "MouthDimpleRight,MouthStretchLeft,MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,"
    "MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,MouthLowerDownRight,MouthUpperUpLeft,"
    "MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,BrowOuterUpRight,CheekPuff,"
    "CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,TongueOut,HeadYaw,HeadPitch,HeadRoll,"
    "LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll"
)


def random_motion(frames: int = 40, seed: int = 0, fps: float = 25) -> FaceMotion:
    rng = np.random.default_rng(seed)
    pose = np.concatenate([rng.normal(0, 8, (frames, 3)), rng.normal(0, 0.05, (frames, 3))], axis=1)
    return FaceMotion(rng.random((frames, 52)), pose, fps=fps, name="prediction")


def no_temporaries(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------------------------------ JSON

@pytest.mark.parametrize("fps", [25, 29.97])
def test_json_round_trip_is_bit_exact_with_meta(tmp_path, fps):
    motion = random_motion(fps=fps)
    meta = {"audio": "speech.wav", "model": {"family": "face", "sha256": "ab" * 32}, "settings": {"dynamic_scale": 1.2}}
    path = write_motion_json(tmp_path / "motion.json", motion, meta)
    loaded, loaded_meta = read_motion_json(path)
    assert loaded.blendshapes.dtype == np.float32 and loaded.pose.dtype == np.float32
    np.testing.assert_array_equal(loaded.blendshapes, motion.blendshapes)
    np.testing.assert_array_equal(loaded.pose, motion.pose)
    assert loaded.fps == fps and loaded.name == "prediction" and loaded_meta == meta
    assert no_temporaries(tmp_path)


def test_json_is_channel_major_by_name_with_units(tmp_path):
    motion = random_motion(frames=7)
    document = json.loads(write_motion_json(tmp_path / "m.json", motion).read_text())
    assert document["blendshape_names"] == list(ARKIT_BLENDSHAPES)
    assert list(document["blendshapes"]) == list(ARKIT_BLENDSHAPES)
    assert document["blendshapes"]["jawOpen"] == motion.channel("jawOpen").tolist()
    assert document["pose"]["yaw"] == motion.pose[:, 1].tolist()
    assert document["units"]["pitch"] == "degrees" and document["units"]["tx"] == "face-box sizes"
    assert document["num_frames"] == 7 and document["meta"] == {}


def test_json_reader_finds_channels_by_name_not_order(tmp_path):
    motion = random_motion(frames=5)
    path = write_motion_json(tmp_path / "m.json", motion)
    document = json.loads(path.read_text())
    document["blendshapes"] = dict(reversed(list(document["blendshapes"].items())))
    path.write_text(json.dumps(document))
    np.testing.assert_array_equal(read_motion_json(path)[0].blendshapes, motion.blendshapes)


def test_json_unwritable_meta_leaves_the_old_file_alone(tmp_path):
    path = write_motion_json(tmp_path / "m.json", random_motion(), {"run": 1})
    before = path.read_bytes()
    with pytest.raises(MotionFileError, match=r"m\.json: meta cannot be written as JSON"):
        write_motion_json(path, random_motion(seed=1), {"array": np.zeros(3)})
    assert path.read_bytes() == before and no_temporaries(tmp_path)
    with pytest.raises(TypeError, match="motion must be a FaceMotion"):
        write_motion_json(tmp_path / "x.json", np.zeros((5, 52)))
    with pytest.raises(TypeError, match="meta must be a mapping"):
        write_motion_json(tmp_path / "x.json", random_motion(), ["not", "a", "dict"])


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(format="something.else"), "not a sonicsynth.face_motion file"),
        (lambda d: d.update(version=99), "format version 99"),
        (lambda d: d["blendshapes"].pop("jawOpen"), r"missing \['jawOpen'\]"),
        (lambda d: d["pose"].update(tw=[0.0] * 6), r"unknown channels \['tw'\]"),
        (lambda d: d["pose"]["yaw"].pop(), "pose.yaw must be a list of 6 numbers, got 5"),
        (lambda d: d["blendshapes"]["jawOpen"].__setitem__(0, "wide"), "blendshapes.jawOpen holds a value"),
        (lambda d: d.update(fps=0), "fps must be a positive number"),
        (lambda d: d.update(num_frames=0), "num_frames must be a positive integer"),
    ],
)
def test_json_reader_errors_name_the_file_and_problem(tmp_path, edit, message):
    path = write_motion_json(tmp_path / "broken.json", random_motion(frames=6))
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))
    with pytest.raises(MotionFileError, match=message) as error:
        read_motion_json(path)
    assert "broken.json" in str(error.value)


def test_json_reader_refuses_non_json_and_missing_files(tmp_path):
    (tmp_path / "text.json").write_text("jawOpen: 1")
    with pytest.raises(MotionFileError, match=r"text\.json: not valid JSON"):
        read_motion_json(tmp_path / "text.json")
    with pytest.raises(MotionFileError, match="no such file"):
        read_motion_json(tmp_path / "absent.json")


# ------------------------------------------------------------------------------ Live Link Face CSV

def test_header_is_exactly_the_documented_one(tmp_path):
    assert ",".join(LIVE_LINK_HEADER) == DOCUMENTED_HEADER
    assert len(LIVE_LINK_HEADER) == 63 and LIVE_LINK_BLENDSHAPE_COUNT == 61
    lines = write_live_link_csv(tmp_path / "take.csv", random_motion(frames=3)).read_text().splitlines()
    assert lines[0] == DOCUMENTED_HEADER and len(lines) == 4
    assert all(line.split(",")[1] == "61" and len(line.split(",")) == 63 for line in lines[1:])


def test_name_mapping_covers_all_52_one_to_one():
    assert set(ARKIT_TO_LIVE_LINK) == set(ARKIT_BLENDSHAPES)
    assert sorted(ARKIT_TO_LIVE_LINK.values()) == sorted(DOCUMENTED_HEADER.split(",")[2:54])
    assert ARKIT_TO_LIVE_LINK["jawOpen"] == "JawOpen" and ARKIT_TO_LIVE_LINK["mouthSmileLeft"] == "MouthSmileLeft"


def test_writer_puts_each_channel_under_its_own_name(tmp_path):
    """One channel at a time set to a distinct value lands in the column of the same name."""
    blendshapes = np.zeros((52, 52))
    blendshapes[np.arange(52), np.arange(52)] = (np.arange(52) + 1) / 100
    pose = np.zeros((52, 6))
    pose[:, 0], pose[:, 1], pose[:, 2] = 10.0, 20.0, -30.0  # pitch, yaw, roll in degrees
    path = write_live_link_csv(tmp_path / "t.csv", FaceMotion(blendshapes, pose), rotation_unit="degrees")
    header, *rows = [line.split(",") for line in path.read_text().splitlines()]
    for frame, name in enumerate(ARKIT_BLENDSHAPES):
        row = dict(zip(header, rows[frame]))
        assert float(row[name[0].upper() + name[1:]]) == pytest.approx((frame + 1) / 100)
        assert sum(float(row[column]) for column in header[2:54]) == pytest.approx((frame + 1) / 100)
        assert (float(row["HeadPitch"]), float(row["HeadYaw"]), float(row["HeadRoll"])) == (10.0, 20.0, -30.0)
        assert all(float(row[column]) == 0.0 for column in header[57:])  # eye rotations


def test_writer_timecodes_clamping_and_rotation_units(tmp_path):
    pose = np.zeros((26, 6))
    pose[:, 1] = 90.0
    blendshapes = np.full((26, 52), 0.5)
    blendshapes[0, blendshape_index("jawOpen")] = 1.2  # model overshoot
    blendshapes[0, blendshape_index("mouthClose")] = -0.1
    motion = FaceMotion(blendshapes, pose, fps=25)
    for unit, expected in (("radians", np.pi / 2), ("normalized", 0.5), ("degrees", 90.0)):
        rows = [line.split(",") for line in write_live_link_csv(tmp_path / f"{unit}.csv", motion, rotation_unit=unit)
                .read_text().splitlines()]
        header = rows[0]
        assert float(rows[1][header.index("HeadYaw")]) == pytest.approx(expected, abs=1e-10)
        assert [rows[i][0] for i in (1, 2, 26)] == ["00:00:00:00.000", "00:00:00:02.400", "00:00:01:00.000"]
    first = dict(zip(header, rows[1]))
    assert first["JawOpen"] == "1.0000000000" and first["MouthClose"] == "0.0000000000"


def test_timecode_format_and_parse_agree():
    assert format_timecode(13 * 3600 + 13 * 60 + 4 + 31.652 / 60) == "13:13:04:31.652"
    assert parse_timecode("13:13:04:31.652") == pytest.approx(47584 + 31.652 / 60)
    assert parse_timecode("00:00:01:12", timecode_fps=25) == pytest.approx(1.48)
    for seconds in (0.0, 0.04, 1.0, 59.96, 3723.5):
        assert parse_timecode(format_timecode(seconds)) == pytest.approx(seconds, abs=1e-5)


@pytest.mark.parametrize("unit", ["radians", "normalized", "degrees"])
def test_live_link_round_trip_within_csv_precision(tmp_path, unit):
    motion = random_motion(frames=60, seed=3)
    loaded = read_live_link_csv(write_live_link_csv(tmp_path / "take.csv", motion, rotation_unit=unit),
                                rotation_unit=unit)
    assert loaded.fps == 25 and loaded.num_frames == 60 and loaded.name == "take"
    np.testing.assert_allclose(loaded.blendshapes, motion.blendshapes, atol=1e-7)
    np.testing.assert_allclose(loaded.pose[:, :3], motion.pose[:, :3], atol=1e-4)
    np.testing.assert_array_equal(loaded.pose[:, 3:], 0.0)  # the format has no translation


def test_hand_written_take_in_the_apps_layout(tmp_path):
    """Three 30 Hz rows stamped like the app's takes (60 fps timecode, sub-frame fraction, time of day)."""
    header = DOCUMENTED_HEADER.split(",")
    frames = [
        ("13:13:04:31.652", {"JawOpen": 0.1, "HeadYaw": 0.1}),
        ("13:13:04:33.651", {"JawOpen": 0.5, "JawLeft": 0.2, "MouthSmileLeft": 0.3, "HeadPitch": -0.05}),
        ("13:13:04:35.651", {"EyeBlinkRight": 0.9, "TongueOut": 0.01, "HeadRoll": 0.02, "LeftEyeYaw": 0.3}),
    ]
    lines = [DOCUMENTED_HEADER]
    for timecode, values in frames:
        lines.append(",".join([timecode, "61"] + [f"{values.get(name, 0.0):.10f}" for name in header[2:]]))
    path = tmp_path / "MySlate_7_iPhone.csv"
    path.write_text("\n".join(lines) + "\n")

    motion = read_live_link_csv(path)
    assert motion.fps == 30 and motion.num_frames == 3 and motion.name == "MySlate_7_iPhone"
    assert motion.channel("jawOpen").tolist() == pytest.approx([0.1, 0.5, 0.0])
    assert motion.channel("jawLeft").tolist() == pytest.approx([0.0, 0.2, 0.0])  # JawLeft is after JawRight
    assert motion.channel("jawRight").tolist() == [0.0, 0.0, 0.0]
    assert motion.channel("mouthSmileLeft")[1] == pytest.approx(0.3)
    assert motion.channel("eyeBlinkRight")[2] == pytest.approx(0.9)
    assert motion.channel("tongueOut")[2] == pytest.approx(0.01)
    assert float(motion.blendshapes.sum()) == pytest.approx(0.1 + 0.5 + 0.2 + 0.3 + 0.9 + 0.01, abs=1e-6)
    expected_pose = np.zeros((3, 6))
    expected_pose[0, 1] = np.degrees(0.1)  # yaw
    expected_pose[1, 0] = np.degrees(-0.05)  # pitch
    expected_pose[2, 2] = np.degrees(0.02)  # roll; the eye yaw is not head pose
    np.testing.assert_allclose(motion.pose, expected_pose, atol=1e-4)

    # Some tools write camelCase names and reorder columns: found by name all the same.
    order = [0, 1] + list(range(62, 1, -1))
    renamed = [[row.split(",")[i] for i in order] for row in lines]
    renamed[0] = [name[0].lower() + name[1:] if i >= 2 else name for i, name in enumerate(renamed[0])]
    other = tmp_path / "camel.csv"
    other.write_text("\n".join(",".join(row) for row in renamed) + "\n")
    again = read_live_link_csv(other)
    np.testing.assert_array_equal(again.blendshapes, motion.blendshapes)
    np.testing.assert_array_equal(again.pose, motion.pose)


def _written_lines(tmp_path, frames: int = 4) -> list[list[str]]:
    path = write_live_link_csv(tmp_path / "good.csv", random_motion(frames=frames))
    return [line.split(",") for line in path.read_text().splitlines()]


def _drop_column(rows, name):
    column = rows[0].index(name)
    return [row[:column] + row[column + 1:] for row in rows]


def _set(rows, line, column_name, value):
    rows[line - 1][rows[0].index(column_name)] = value
    return rows


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda rows: _drop_column(rows, "JawOpen"), "header lacks 1 column\\(s\\): JawOpen"),
        (lambda rows: _drop_column(rows, "HeadYaw"), "header lacks 1 column\\(s\\): HeadYaw"),
        (lambda rows: _set(rows, 3, "MouthClose", "n/a"), "line 3, column MouthClose: 'n/a' is not a number"),
        (lambda rows: _set(rows, 2, "JawOpen", "nan"), "line 2, column JawOpen: 'nan' is not finite"),
        (lambda rows: rows[:2] + [rows[2][:-1]] + rows[3:], "line 3 has 62 fields, the header has 63"),
        (lambda rows: _set(rows, 4, "BlendShapeCount", "52"), "line 4: BlendShapeCount is '52', but 61 values"),
        (lambda rows: _set(rows, 2, "Timecode", "1.5"), "line 2: timecode '1.5' is not HH:MM:SS:FF.fff"),
        (lambda rows: _set(rows, 2, "Timecode", "00:00:00:75.000"), "counts frame 75, not below the timecode rate 60"),
        (lambda rows: _set(rows, 4, "Timecode", "00:00:00:01.000"), "timecodes do not increase at line 4"),
        (lambda rows: _set(rows, 2, "HeadYaw", "35.0"), "head rotation reaches 2005 degrees when read as radians"),
        (lambda rows: _set(rows, 2, "JawOpen", "87.5"), "blendshape weights span"),
        (lambda rows: rows[:1], "header only, no frames"),
        (lambda rows: [], "empty file"),
    ],
)
def test_live_link_reader_errors_name_the_file_and_problem(tmp_path, edit, message):
    rows = edit(_written_lines(tmp_path))
    path = tmp_path / "bad_take.csv"
    path.write_text("".join(",".join(row) + "\n" for row in rows))
    with pytest.raises(MotionFileError, match=message) as error:
        read_live_link_csv(path)
    assert "bad_take.csv" in str(error.value)


def test_live_link_reader_frame_rate_and_dropped_frames(tmp_path):
    rows = _written_lines(tmp_path, frames=1)
    path = tmp_path / "one.csv"
    path.write_text("".join(",".join(row) + "\n" for row in rows))
    with pytest.raises(MotionFileError, match="one frame gives no frame rate; pass fps="):
        read_live_link_csv(path)
    assert read_live_link_csv(path, fps=60).fps == 60

    rows = _written_lines(tmp_path, frames=10)
    del rows[5]  # one frame dropped from the middle
    path.write_text("".join(",".join(row) + "\n" for row in rows))
    with pytest.warns(UserWarning, match="1 timecode step\\(s\\) up to 2.0x the median"):
        assert read_live_link_csv(path).num_frames == 9
    with pytest.raises(MotionFileError, match="no such file"):
        read_live_link_csv(tmp_path / "absent.csv")


def test_live_link_bad_arguments(tmp_path):
    motion = random_motion(frames=3)
    with pytest.raises(ValueError, match="rotation_unit must be one of"):
        write_live_link_csv(tmp_path / "t.csv", motion, rotation_unit="gradians")
    with pytest.raises(ValueError, match="timecode_fps must be a whole number"):
        write_live_link_csv(tmp_path / "t.csv", motion, timecode_fps=29.97)
    with pytest.raises(ValueError, match="below 24 hours"):
        write_live_link_csv(tmp_path / "t.csv", motion, start_seconds=24 * 3600 - 0.01)
    with pytest.raises(TypeError, match="motion must be a FaceMotion"):
        write_live_link_csv(tmp_path / "t.csv", {"jawOpen": [0.0]})
    assert not (tmp_path / "t.csv").exists() and no_temporaries(tmp_path)


# -------------------------------------------------------------------------------------------- PNG

def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_is_a_png_of_the_promised_size(tmp_path):
    prediction, truth = random_motion(seed=1), random_motion(seed=2)
    path = plot_motion(tmp_path / "plots" / "motion.png", prediction, reference=truth, title="clip 7")
    assert path.stat().st_size > 10_000
    assert _png_size(path) == plot_size_pixels(len(DEFAULT_PLOT_CHANNELS)) == (1000, 1250)
    small = plot_motion(tmp_path / "two.png", prediction, channels=("jawOpen", "eyeBlinkRight"))
    assert _png_size(small) == plot_size_pixels(2) and plot_size_pixels(2)[1] < 1250
    assert no_temporaries(tmp_path) and no_temporaries(tmp_path / "plots")


def test_plot_draws_the_reference_dashed(tmp_path, monkeypatch):
    import matplotlib.figure

    captured = {}

    def keep_figure(figure, *args, **kwargs):
        captured["figure"] = figure
        return original(figure, *args, **kwargs)

    original = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep_figure)
    plot_motion(tmp_path / "m.png", random_motion(seed=1), reference=random_motion(seed=2, frames=50))
    axes = captured["figure"].axes
    assert len(axes) == len(DEFAULT_PLOT_CHANNELS) + 2
    jaw = axes[0]
    assert [line.get_linestyle() for line in jaw.get_lines()] == ["-", "--"]
    assert jaw.get_lines()[1].get_xdata()[-1] == pytest.approx(49 / 25)  # time in seconds
    assert jaw.get_ylabel() == "jawOpen" and jaw.get_xlim()[1] == pytest.approx(2.0)


def test_plot_bad_input_and_failure_leave_no_file(tmp_path, monkeypatch):
    motion = random_motion()
    with pytest.raises(KeyError, match="did you mean jawOpen"):
        plot_motion(tmp_path / "m.png", motion, channels=("jawOpn",))
    with pytest.raises(ValueError, match="non-empty sequence"):
        plot_motion(tmp_path / "m.png", motion, channels="jawOpen")
    with pytest.raises(ValueError, match="listed twice"):
        plot_motion(tmp_path / "m.png", motion, channels=("jawOpen", "jawOpen"))
    with pytest.raises(TypeError, match="reference must be a FaceMotion"):
        plot_motion(tmp_path / "m.png", motion, reference=motion.blendshapes)

    import matplotlib.figure

    def fail_midway(figure, file, **kwargs):
        file.write(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", fail_midway)
    with warnings.catch_warnings(), pytest.raises(OSError, match="disk full"):
        plot_motion(tmp_path / "m.png", motion)
    assert list(tmp_path.iterdir()) == []
