"""espeak-ng's en-us IPA mapped to CMUdict's ARPAbet, so English words never leave one phone set.

English words missing from CMUdict are phonemized by espeak-ng (en-us voice) and mapped here. The
table was checked against CMUdict itself: phonemizing all 117k alphabetic CMUdict words with espeak and
aligning the mapped phones with CMUdict's, each IPA phone's mapping below is the ARPAbet phone it most
often aligns with. Choices where the sets differ:

  * ə, ɐ (reduced vowels) -> AH; ᵻ (espeak's reduced i of "roses") -> IH; unstressed i ("happy") -> IY.
  * ɾ (flap) -> T: espeak writes a flap only for an underlying t (better, water), where CMUdict has T.
  * ʔ (glottal stop, "button") -> T, as CMUdict spells it.
  * ɔ, oː (espeak's unstressed/checked variants of the thought vowel) -> AO.
  * espeak's r-coloured units split into vowel + R (ɑːɹ -> AA R) or vowel + ER (aɪɚ -> AY ER), its
    syllabic l and n into AH L and AH N, and iə (idea) into IY AH, as CMUdict writes them.
  * Loan sounds: x (loch) -> K, ɬ (Welsh ll) -> L, nasal vowels -> their oral vowel, palatalised
    consonants -> the plain one.

Stress: a vowel marked ˈ gets 1, ˌ gets 2, unmarked 0. In a unit that maps to two vowels, the stress
goes to the first and the second gets 0.
"""

from __future__ import annotations

from collections.abc import Sequence

IPA_VOWELS_TO_ARPABET: dict[str, tuple[str, ...]] = {
    "ə": ("AH",), "ɐ": ("AH",), "ʌ": ("AH",),
    "ɪ": ("IH",), "ᵻ": ("IH",), "ɪː": ("IH",),
    "i": ("IY",), "iː": ("IY",),
    "ɛ": ("EH",), "e": ("EH",), "æ": ("AE",),
    "ɑ": ("AA",), "ɑː": ("AA",), "ɑ̃": ("AA",), "ɒ": ("AA",), "a": ("AA",), "aː": ("AA",),
    "ɔ": ("AO",), "ɔː": ("AO",), "oː": ("AO",), "ɔ̃": ("AO",),
    "o": ("OW",), "oʊ": ("OW",), "əʊ": ("OW",),
    "ɜː": ("ER",), "ɜ": ("ER",), "ɚ": ("ER",),
    "eɪ": ("EY",), "aɪ": ("AY",), "aʊ": ("AW",), "ɔɪ": ("OY",),
    "u": ("UW",), "uː": ("UW",), "ʊ": ("UH",),
    # two-phone units
    "ɑːɹ": ("AA", "R"), "oːɹ": ("AO", "R"), "ɔːɹ": ("AO", "R"), "ɛɹ": ("EH", "R"), "ɪɹ": ("IH", "R"),
    "ʊɹ": ("UH", "R"), "aɪɚ": ("AY", "ER"), "aɪə": ("AY", "AH"), "iə": ("IY", "AH"), "eə": ("EH", "AH"),
    "ʊə": ("UH", "AH"), "əl": ("AH", "L"), "n̩": ("AH", "N"),
}  # fmt: skip

IPA_CONSONANTS_TO_ARPABET: dict[str, str] = {
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "ɡ": "G", "ɾ": "T", "ʔ": "T",
    "tʃ": "CH", "dʒ": "JH",
    "f": "F", "v": "V", "θ": "TH", "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "h": "HH", "x": "K",
    "m": "M", "n": "N", "ŋ": "NG",
    "l": "L", "ɬ": "L", "ɹ": "R", "r": "R",
    "w": "W", "j": "Y",
    "nʲ": "N", "ɡʲ": "G",
}  # fmt: skip

_STRESS_DIGITS = {"ˈ": "1", "ˌ": "2"}
# Second halves of two-phone units that are consonants and so take no stress digit.
_UNSTRESSABLE = frozenset({"R", "L", "N"})


class UnmappedIpaError(ValueError):
    """An espeak-ng phone with no ARPAbet equivalent in the table."""


def ipa_to_arpabet(ipa_phones: Sequence[str], word: str) -> list[str]:
    """ARPAbet phones (stress digits on vowels) for one word's espeak en-us phones."""
    arpabet: list[str] = []
    for phone in ipa_phones:
        stress = _STRESS_DIGITS.get(phone[:1], "")
        bare = phone[1:] if stress else phone
        if bare in IPA_CONSONANTS_TO_ARPABET:
            arpabet.append(IPA_CONSONANTS_TO_ARPABET[bare])
        elif bare in IPA_VOWELS_TO_ARPABET:
            first, *rest = IPA_VOWELS_TO_ARPABET[bare]
            arpabet.append(first + (stress or "0"))
            arpabet.extend(part if part in _UNSTRESSABLE else part + "0" for part in rest)
        else:
            raise UnmappedIpaError(
                f"espeak-ng phone {phone!r} of word {word!r} has no ARPAbet mapping (sonicsynth.text.arpabet)"
            )
    return arpabet
