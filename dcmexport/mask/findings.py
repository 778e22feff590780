"""What the OCR redaction (``--redact-text``) found on one object: counts, seconds and places, never words.

:class:`TextFindings` is filled by :mod:`dcmexport.mask.redact` while it reads the frames and
carried to the object's result by the pipeline; the manifest records its counts and its
:class:`~dcmexport.results.TextHit` places (stage, category, confidence, box), which the review
page draws. A word read may be PHI: nothing here holds one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dcmexport.results import TextHit

Box = tuple[int, int, int, int]

#: At most this many places are kept per object (a clip read on every frame repeats each word).
MAX_HITS = 400


def _same_place(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """True when ``a`` and ``b`` overlap by at least half of the smaller one (one word on two frames)."""
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return smaller > 0 and inter * 2 >= smaller


@dataclass
class TextFindings:
    """What OCR read on one object, as counts and places (never the words).

    Attributes:
        frames: frames read.
        words: words read by the detection passes (every pass counted).
        masked: of those, words masked.
        kept: words kept (allow list; in ``all`` mode, non-PHI-like words inside an image region).
        boxes: masked boxes after uniting across frames.
        check_frames: frames the second pass read.
        check_words: words the second pass read after masking.
        check_inside: of those, words inside a masked area (confidence >= 50, two letters or digits).
        check_phi: of those, PHI-like words (confidence >= 60) that detection did not keep.
        seconds: OCR time, both passes.
        hits: where words were read, by stage and category (:meth:`add_hit`), frame pixels.
    """

    frames: int = 0
    words: int = 0
    masked: int = 0
    kept: int = 0
    boxes: int = 0
    check_frames: int = 0
    check_words: int = 0
    check_inside: int = 0
    check_phi: int = 0
    seconds: float = 0.0
    per_frame: list[float] = field(default_factory=list, repr=False)
    #: boxes and confidences of the words detection kept (never their text), for the second pass
    kept_words: list[tuple[Box, float]] = field(default_factory=list, repr=False)
    hits: list[TextHit] = field(default_factory=list, repr=False)

    @property
    def clean(self) -> bool:
        """True when the second pass read nothing inside a masked area and nothing PHI-like."""
        return self.check_inside == 0 and self.check_phi == 0

    def add_hit(self, stage: str, category: str, confidence: float, box: Box) -> None:
        """Record where a word was read. The same stage and category at the same place (another
        frame, another preprocessing) is one hit with the higher confidence."""
        for i, hit in enumerate(self.hits):
            if hit.stage == stage and hit.category == category and _same_place(hit.box, box):
                if confidence > hit.confidence:
                    self.hits[i] = TextHit(stage, category, round(confidence, 1), hit.box)
                return
        if len(self.hits) < MAX_HITS:
            self.hits.append(TextHit(stage, category, round(confidence, 1), box))

    def as_counts(self) -> dict[str, float]:
        """The findings for a manifest record (numbers only)."""
        return {
            "frames": self.frames, "words": self.words, "masked": self.masked, "kept": self.kept,
            "boxes": self.boxes, "check_frames": self.check_frames, "check_words": self.check_words,
            "check_inside": self.check_inside, "check_phi": self.check_phi, "seconds": round(self.seconds, 3),
        }  # fmt: skip
