"""Pose refinement from text context: each rule moves what it claims, where it claims, and nothing else.

The input motion is synthetic: a head that sways about an off-frontal mean and blendshapes in
0.2..0.6, so no rule reaches a limit unless a test puts the motion there. Word timings are made up
in seconds, so where a nod must appear is known exactly.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from sonicsynth.data.manifest import Alignment, PhoneSpan, WordSpan
from sonicsynth.models.face.blendshapes import FPS, MOUTH_INDICES, FaceMotion, blendshape_index
from sonicsynth.models.face.pose_refinement import (
    EMOTIONS,
    EXPRESSION_CHANNELS,
    QUESTION_RELEASE_SEC,
    QUESTION_RISE_SEC,
    PoseRefinementSettings,
    build_pose_context,
    parse_emphasis_markup,
    refine_pose,
    sentence_type,
    split_sentences,
)
from sonicsynth.models.face.postprocess import PostprocessSettings, load_style

PITCH, YAW, ROLL = 0, 1, 2
MEAN_POSE = np.array([5.0, 12.0, -3.0, 0.05, -0.02, 0.1])


def _motion(seconds: float = 3.0, seed: int = 0) -> FaceMotion:
    frames = round(seconds * FPS)
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / FPS
    blendshapes = 0.4 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.2, 1.5, (1, 52)) * t + rng.uniform(0, 6, (1, 52)))
    sway = np.sin(2 * np.pi * rng.uniform(0.2, 0.6, (1, 6)) * t) * np.array([3.0, 6.0, 2.0, 0.02, 0.02, 0.02])
    return FaceMotion(blendshapes, MEAN_POSE + sway)


def _words(*spans: tuple[str, float, float]) -> list[WordSpan]:
    return [WordSpan(*span) for span in spans]


STATEMENT_WORDS = _words(("This", 0.2, 0.5), ("is", 0.5, 0.7), ("really", 1.0, 1.4), ("good", 1.6, 2.0))


def _delta(out: FaceMotion, motion: FaceMotion) -> np.ndarray:
    return out.pose.astype(np.float64) - motion.pose.astype(np.float64)


@pytest.mark.parametrize("text, kind", [
    ("It rains.", "statement"), ("Does it rain?", "question"), ("Stop that!", "exclamation"),
    ('She asked, "Are you coming?"', "question"), ("He shouted 'Run!')", "exclamation"),
    ("Well...", "statement"), ("Really...?", "question"), ("What?!", "question"), ("no mark at all", "statement"),
    ("你好吗？", "question"), ("太好了！", "exclamation"), ("我很好。", "statement"),
])
def test_sentence_types_from_final_punctuation(text, kind):
    assert sentence_type(text) == kind
    context = build_pose_context(text, 2.0)
    assert [s.kind for s in context.sentences] == [kind]


def test_sentences_split_after_marks_with_closing_quotes_but_not_inside_numbers_or_abbreviations():
    text = 'He said "Why?" Then he left... Version 3.5 is out, e.g. today! 你好吗？我很好。'
    pieces = [text[a:b] for a, b in split_sentences(text)]
    assert pieces == ['He said "Why?"', "Then he left...", "Version 3.5 is out, e.g. today!",
                      "你好吗？", "我很好。"]
    kinds = [s.kind for s in build_pose_context(text, 6.0).sentences]
    assert kinds == ["question", "statement", "exclamation", "question", "statement"]


def test_emphasis_markup_is_parsed_and_stripped():
    clean, spans = parse_emphasis_markup("This is *really* important.")
    assert clean == "This is really important." and [clean[a:b] for a, b in spans] == ["really"]

    context = build_pose_context("This is *really* important and VERY CHEAP. I said so.", 4.0)
    assert "*" not in context.text and "VERY CHEAP" in context.text
    assert [[e.text for e in s.emphasis] for s in context.sentences] == [["really", "VERY CHEAP"], []]
    assert all(e.source == "markup" for e in context.sentences[0].emphasis)

    chinese = build_pose_context("这个*非常*重要。", 2.0)
    assert chinese.text == "这个非常重要。" and [e.text for e in chinese.sentences[0].emphasis] == ["非常"]
    # A text typed in capitals is not all emphasis; single capitals ("I", "A") never are.
    assert not any(s.emphasis for s in build_pose_context("HELLO THERE. I AM HERE.", 2.0).sentences)
    assert not build_pose_context("I think A is fine.", 2.0).sentences[0].emphasis
    with pytest.raises(ValueError, match="unpaired"):
        build_pose_context("This is *really important.", 2.0)
    with pytest.raises(ValueError, match="empty emphasis"):
        build_pose_context("This is ** important.", 2.0)


def test_a_nod_appears_exactly_around_the_emphasised_word_and_nowhere_else():
    motion = _motion()
    context = build_pose_context("This is *really* good.", motion.duration, words=STATEMENT_WORDS)
    (word,) = context.sentences[0].emphasis
    assert (word.start, word.end) == (1.0, 1.4) and word.peak == pytest.approx(1.0 + 0.4 / 3)
    settings = PoseRefinementSettings(emphasis_nod_degrees=4.0, nod_duration_sec=0.36)
    out, record = refine_pose(motion, context, settings)

    delta = _delta(out, motion)
    times = np.arange(motion.num_frames) / FPS
    inside = np.abs(times - word.peak) < 0.18
    assert np.all(delta[~inside] == 0.0) and np.all(delta[:, 1:] == 0.0)  # localised, pitch only
    assert np.all(delta[inside, PITCH] < 0.0)  # a nod is pitch down
    assert times[np.argmin(delta[:, PITCH])] == pytest.approx(word.peak, abs=0.5 / FPS)
    assert delta[:, PITCH].min() == pytest.approx(-4.0, abs=0.15)
    (event,) = record["events"]
    assert event["kind"] == "emphasis_nod" and event["word"] == "really" and event["magnitude"] == {"pitch": -4.0}
    assert event["frames"] == [int(np.flatnonzero(inside)[0]), int(np.flatnonzero(inside)[-1])]


def test_the_nod_peaks_on_the_primary_stress_vowel_of_an_aligned_word():
    phones = (PhoneSpan("IH0", 1.0, 1.1), PhoneSpan("M", 1.1, 1.15), PhoneSpan("P", 1.15, 1.2),
              PhoneSpan("AO1", 1.2, 1.36), PhoneSpan("R", 1.36, 1.4))
    alignment = Alignment("arpabet", "test", phones, (WordSpan("IMPORTANT", 1.0, 1.4),))
    context = build_pose_context("It is *important*.", 3.0, words=alignment)
    (word,) = context.sentences[0].emphasis
    assert word.peak == pytest.approx(1.28) and word.peak_from == "stressed vowel"


def test_timed_words_match_the_text_despite_case_punctuation_and_spelled_out_numbers():
    words = _words(("", 0.0, 0.3), ("it", 0.3, 0.5), ("costs", 0.5, 0.9), ("three", 0.9, 1.3),
                   ("dollars", 1.3, 1.8), ("wow", 2.2, 2.6))
    context = build_pose_context("It costs 3 *dollars*! Wow.", 3.0, words=words)
    first, second = context.sentences
    assert context.timing == "aligned"
    assert (first.start, first.end, second.start, second.end) == (0.3, 1.8, 2.2, 2.6)
    assert (first.emphasis[0].start, first.emphasis[0].end) == (1.3, 1.8)


def test_without_word_timings_sentences_share_the_duration_by_character_count():
    context = build_pose_context("Hi there. How are you doing?", 3.0)
    first, second = context.sentences
    # "Hithere." = 8 non-space characters, "Howareyoudoing?" = 15: 23 in all
    assert context.timing == "proportional"
    assert first.start == 0.0 and first.end == pytest.approx(3.0 * 8 / 23) and second.end == pytest.approx(3.0)


def test_a_question_raises_and_tilts_the_head_near_its_end_only():
    motion = _motion()
    context = build_pose_context("Are you coming?", motion.duration, words=_words(
        ("are", 0.2, 0.5), ("you", 0.5, 0.8), ("coming", 0.9, 2.0)))
    out, record = refine_pose(motion, context, PoseRefinementSettings())
    delta = _delta(out, motion)
    times = np.arange(motion.num_frames) / FPS
    window = (times > 2.0 - QUESTION_RISE_SEC) & (times < 2.0 + QUESTION_RELEASE_SEC)
    assert np.all(delta[~window] == 0.0)
    assert np.all(delta[window, PITCH] > 0.0) and np.all(delta[window, ROLL] != 0.0)
    assert times[np.argmax(delta[:, PITCH])] == pytest.approx(2.0)
    assert delta[:, PITCH].max() == pytest.approx(2.0, abs=1e-5)
    assert [event["kind"] for event in record["events"]] == ["question_raise"]


def test_an_exclamation_nods_sharper_and_deeper_and_moves_more():
    motion = _motion()
    words = STATEMENT_WORDS
    calm, _ = refine_pose(motion, build_pose_context("This is *really* good.", 3.0, words=words))
    loud, record = refine_pose(motion, build_pose_context("This is *really* good!", 3.0, words=words))
    calm_nod, loud_nod = _delta(calm, motion)[:, PITCH], _delta(loud, motion)[:, PITCH]
    assert loud_nod.min() < 1.3 * calm_nod.min()  # deeper (both negative)
    peak = round((1.0 + 0.4 / 3) * FPS)
    assert loud_nod[peak + 3] - loud_nod[peak] > calm_nod[peak + 3] - calm_nod[peak]  # sharper recovery
    sentence = slice(round(0.2 * FPS), round(2.0 * FPS))
    assert loud.pose[sentence, YAW].std() > calm.pose[sentence, YAW].std()
    assert {"exclamation_energy", "emphasis_nod"} <= {event["kind"] for event in record["events"]}
    # Nothing emphasised: the exclamation nods on its last word.
    bare = build_pose_context("This is really good!", 3.0, words=words)
    assert [(e.text, e.source) for e in bare.sentences[0].emphasis] == [("good", "exclamation")]


def test_strength_zero_returns_the_input_bit_for_bit():
    motion = _motion()
    context = build_pose_context("This is *really* good! Is it?", 3.0, emotion="surprised")
    out, record = refine_pose(motion, context, PoseRefinementSettings(strength=0.0))
    assert out.pose.tobytes() == motion.pose.tobytes()
    assert out.blendshapes.tobytes() == motion.blendshapes.tobytes()
    assert record["events"] == [] and out.pose is not motion.pose


def _refined(emotion: str, motion: FaceMotion, text: str = "This is *really* good.") -> FaceMotion:
    context = build_pose_context(text, motion.duration, words=STATEMENT_WORDS, emotion=emotion)
    return refine_pose(motion, context)[0]


def _nod_depth(emotion: str, motion: FaceMotion) -> float:
    """The nod alone: pitch with the emphasis minus pitch without it, under the same emotion."""
    nodded, plain = _refined(emotion, motion), _refined(emotion, motion, "This is really good.")
    return float((nodded.pose[:, PITCH].astype(np.float64) - plain.pose[:, PITCH]).min())


def test_emotions_modulate_with_their_documented_signs():
    motion = _motion()
    neutral, happy, sad, angry, surprised = (_refined(name, motion) for name in
                                             ("neutral", "happy", "sad", "angry", "surprised"))
    pitch_mean = {name: m.pose[:, PITCH].mean() for name, m in
                  [("neutral", neutral), ("happy", happy), ("sad", sad), ("surprised", surprised)]}
    assert pitch_mean["sad"] < pitch_mean["neutral"] < pitch_mean["happy"] < pitch_mean["surprised"]
    assert happy.pose[:, YAW].std() > neutral.pose[:, YAW].std() > sad.pose[:, YAW].std()
    assert angry.pose[:, YAW].std() < neutral.pose[:, YAW].std()  # less sway
    depth = {name: _nod_depth(name, motion) for name in ("neutral", "sad", "angry")}
    assert depth["angry"] < depth["neutral"] < depth["sad"] < 0  # angry nods deepest, sad shallowest
    for name in ("browInnerUp", "eyeWideLeft", "eyeWideRight"):
        assert np.all(surprised.channel(name) > motion.channel(name))
    for emotion in ("happy", "sad", "angry"):  # only surprise touches the face
        assert _refined(emotion, motion).blendshapes.tobytes() == motion.blendshapes.tobytes()


def test_per_sentence_emotions_crossfade_instead_of_jumping():
    swaying = _motion(4.0)  # a still head, so the pitch change is the offsets alone (gains act on motion)
    motion = FaceMotion(swaying.blendshapes, np.repeat(MEAN_POSE[None], swaying.num_frames, axis=0))
    context = build_pose_context("I am glad. I am sad.", 4.0, emotion=["happy", "sad"])
    out, record = refine_pose(motion, context)
    delta = _delta(out, motion)[:, PITCH]
    assert delta[5] == pytest.approx(1.5) and delta[-5] == pytest.approx(-3.0)
    assert np.abs(np.diff(delta)).max() < 1.0  # 4.5 degrees spread over the 0.4 s transition
    assert [event["emotion"] for event in record["events"] if event["kind"] == "emotion"] == ["happy", "sad"]


def test_only_the_named_expression_channels_change_and_the_mouth_never():
    motion = _motion()
    context = build_pose_context("WOW, this is *really* good! Is it?", 3.0, emotion="surprised",
                                 energy_db=np.linspace(-30, -20, 75))
    out, _ = refine_pose(motion, context, PoseRefinementSettings(strength=2.0))
    named = [blendshape_index(name) for name in EXPRESSION_CHANNELS]
    others = np.setdiff1d(np.arange(52), named)
    assert out.blendshapes[:, others].tobytes() == motion.blendshapes[:, others].tobytes()
    assert out.blendshapes[:, MOUTH_INDICES].tobytes() == motion.blendshapes[:, MOUTH_INDICES].tobytes()
    assert np.any(out.blendshapes[:, named] != motion.blendshapes[:, named])


def test_clipping_keeps_pose_limits_and_blendshape_range():
    motion = _motion()
    pose, blendshapes = motion.pose.copy(), motion.blendshapes.copy()
    pose[:, PITCH] = -44.0  # a nod of 4 degrees would pass the -45 limit
    blendshapes[:, blendshape_index("browInnerUp")] = 0.95  # surprise adds 0.3
    motion = FaceMotion(blendshapes, pose)
    context = build_pose_context("This is *really* good.", 3.0, words=STATEMENT_WORDS, emotion="surprised")
    out, record = refine_pose(motion, context, PostprocessSettings())
    assert out.pose[:, PITCH].min() >= -45.0 and out.channel("browInnerUp").max() == 1.0
    assert record["clipped"]["blendshapes"] == motion.num_frames and record["clipped"]["pose"] > 0
    tight = PostprocessSettings(pose_limits=(44.5, 60, 45, 0.5, 0.5, 0.5))
    assert refine_pose(motion, context, tight)[0].pose[:, PITCH].min() == pytest.approx(-44.5)


def test_loudest_word_is_emphasised_when_nothing_is_marked():
    energy = np.full(75, -30.0)
    energy[round(1.6 * FPS):round(2.0 * FPS)] = -12.0  # "good" is loud
    context = build_pose_context("This is really good.", 3.0, words=STATEMENT_WORDS, energy_db=energy)
    assert [(e.text, e.source) for e in context.sentences[0].emphasis] == [("good", "audio")]
    marked = build_pose_context("This is *really* good.", 3.0, words=STATEMENT_WORDS, energy_db=energy)
    assert [(e.text, e.source) for e in marked.sentences[0].emphasis] == [("really", "markup")]


def test_presets_pair_face_settings_with_nod_size():
    calm, lively, kids = (load_style(name) for name in ("news_anchor", "live_commerce", "children"))
    nod = [s.pose_refinement.strength * s.pose_refinement.emphasis_nod_degrees for s in (calm, lively, kids)]
    assert nod[0] < nod[1] < nod[2]
    motion = _motion()
    context = build_pose_context("This is *really* good.", 3.0, words=STATEMENT_WORDS)
    depths = [_delta(refine_pose(motion, context, s)[0], motion)[:, PITCH].min() for s in (calm, lively, kids)]
    assert depths[0] > depths[1] > depths[2] and refine_pose(motion, context, calm)[1]["style"] == "news_anchor"


def test_refinement_is_deterministic_and_its_record_is_json():
    motion = _motion()
    context = build_pose_context("Is *this* good? YES! Fine.", 3.0, emotion=["surprised", "happy", "sad"])
    first, record_a = refine_pose(motion, context)
    second, record_b = refine_pose(motion, context)
    assert first.pose.tobytes() == second.pose.tobytes() and record_a == record_b
    assert json.loads(json.dumps(record_a)) == record_a  # the generation log is JSON


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="valid emotions: " + ", ".join(EMOTIONS)):
        build_pose_context("Hello there.", 2.0, emotion="joyful")
    with pytest.raises(ValueError, match="2 emotions for 1 sentences"):
        build_pose_context("Hello there.", 2.0, emotion=["happy", "sad"])
    with pytest.raises(ValueError, match="ends after the motion's duration"):
        build_pose_context("Hello there.", 2.0, words=_words(("hello", 0.1, 0.5), ("there", 0.6, 2.5)))
    with pytest.raises(ValueError, match="no word timings"):
        build_pose_context("Hello.", 2.0, words=Alignment("arpabet", "test", (PhoneSpan("HH", 0, 1),)))
    with pytest.raises(ValueError, match="strength must be >= 0"):
        PoseRefinementSettings(strength=-0.5)
    with pytest.raises(ValueError, match="pose_refinement.strength"):
        PostprocessSettings(pose_refinement={"strength": -1.0})
    with pytest.raises(ValueError, match="text is empty"):
        build_pose_context("  ", 2.0)
    with pytest.raises(ValueError, match="context covers 2.000 s but the motion 3.000 s"):
        refine_pose(_motion(3.0), build_pose_context("Hello.", 2.0))
