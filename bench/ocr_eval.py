#!/usr/bin/env python
"""Evaluate ``--redact-text``: recall on planted identifying text, masked area on text-free frames, speed.

Scenes come from ``tests/textgen.py`` (fake PHI tokens at random positions, 8-40 px cap height,
several Debian font families, colours and polarities, on ultrasound-like, CT-like and RGB
backgrounds, 1 to 60 frames). Each scene goes through the redaction exactly as the pipeline runs
it (:func:`dcmexport.mask.redact.redact_frames`: sampled frames, detection passes, union
of boxes, second pass). Then, per planted token:

* **covered**: at least 99 % of its inked pixels are blanked (no OCR involved);
* **readable after**: an *independent* OCR pass (:func:`tests.textgen.token_readable`) still
  reads it on the masked frame. That reader is built unlike every pass of the redaction: it
  knows where the token is, crops around it, smooths and enlarges the crop so capitals are
  48 px tall, binarises it with Otsu's threshold of the crop, and runs Tesseract as one word
  (``--psm 8``) and as a raw line (``--psm 13``) in both polarities (the redaction uses fixed,
  banner and Sauvola thresholds or a percentile stretch, ``--psm`` 11, 7 and 6, 32-40 px); as a
  second opinion it also reads the stretched crop at 32 px as one line (``--psm 7``), which
  only makes it stricter; the token counts as readable when any reading matches at least 75 %
  of it or contains it;
* **readable before**: the same on the unmasked frame (how many tokens the reader can read at all).

A token is **removed** when it is covered or not readable after. Recall = removed / planted
(the issue's definition), also given over the tokens readable before masking; the covered rate
is the strict, reader-free figure. On scenes with text, the share of the frame masked farther
than one text height from any token is reported too. A scene whose second pass still reads
PHI-like text would be refused by the pipeline: the tokens left readable in *written* outputs
are counted apart. Text-free scenes give the share of the frame masked for nothing. Timing: OCR
seconds per frame read (detection and second pass) and per clip, in one process (one core).

Usage::

    python bench/ocr_eval.py                   # 50 scenes with 5-8 tokens (~320 tokens) + 20 text-free
    python bench/ocr_eval.py --scenes 20 --free 5 --seed 3
    python bench/ocr_eval.py --real            # also deid-data's real ultrasound files
    python bench/ocr_eval.py --scenes 0 --free 0 --pipeline 12   # through the API, --jobs 1 vs 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dcmexport.mask.rects import apply_blank_boxes  # noqa: E402
from dcmexport.mask.redact import redact_frames  # noqa: E402
from dcmexport.options import RedactText  # noqa: E402
from tests.textgen import TextScene, make_scene, score_token, token_readable  # noqa: E402

SIZE_BUCKETS = ((8, 11), (12, 15), (16, 23), (24, 31), (32, 40))


@dataclass
class Tally:
    """Counts for one group of planted tokens."""

    planted: int = 0
    covered: int = 0  # >= 99 % of its inked pixels blanked
    before: int = 0  # readable before masking
    after: int = 0  # still readable after masking (and not covered)
    after_of_before: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, covered: bool, before: bool, after: bool, what: str) -> None:
        self.planted += 1
        self.covered += covered
        self.before += before
        left = after and not covered  # a token fully under a mask is removed, whatever a reader says
        self.after += left
        self.after_of_before += before and left
        if left:
            self.misses.append(what)

    @property
    def recall(self) -> float:
        return 1 - self.after / self.planted if self.planted else float("nan")

    def row(self, name: str) -> str:
        recall_b = 1 - self.after_of_before / self.before if self.before else float("nan")
        covered = self.covered / self.planted if self.planted else float("nan")
        return f"| {name} | {self.planted} | {self.recall:.1%} | {recall_b:.1%} ({self.before}) | {covered:.1%} |"


def evaluate_scene(scene: TextScene, mode: RedactText, step: int) -> tuple[np.ndarray, dict[str, float]]:
    """Run the redaction on a scene; return the union of blanked pixels and the findings."""
    frames = scene.frames
    redaction = redact_frames(lambda i: frames[i], len(frames), mode=mode, keep=scene.keep,
                              all_frames=False, step=step)
    rows, columns = frames.shape[1:3]
    blanked = np.zeros((rows, columns), dtype=bool)
    for x0, y0, x1, y1 in redaction.boxes:
        blanked[y0:y1, x0:x1] = True
    return blanked, {**redaction.findings.as_counts(), "per_frame": redaction.findings.per_frame}  # type: ignore[dict-item]


def run(scenes: int, free: int, seed: int, mode: RedactText, step: int, verbose: bool,
        tokens: tuple[int, int] = (5, 8)) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    total, by_size = Tally(), {b: Tally() for b in SIZE_BUCKETS}
    by_background: dict[str, Tally] = {}
    per_frame: list[float] = []
    per_clip: list[tuple[int, float]] = []
    refused = exported = leaked = 0
    extra_area: list[float] = []
    for n in range(scenes):
        scene = make_scene(rng, tokens=int(rng.integers(tokens[0], tokens[1] + 1)))
        blanked, findings = evaluate_scene(scene, mode, step)
        per_frame.extend(findings["per_frame"])  # type: ignore[arg-type]
        if len(scene.frames) > 1:
            per_clip.append((len(scene.frames), float(findings["seconds"])))
        scene_refused = findings["check_phi"] > 0 or findings["check_inside"] > 0
        refused += scene_refused
        near_text = np.zeros(blanked.shape, dtype=bool)  # the tokens with a margin of their own height
        for token in scene.tokens:
            x0, y0, x1, y1 = token.box
            h = y1 - y0
            near_text[max(0, y0 - h): y1 + h, max(0, x0 - h): x1 + h] = True
        extra_area.append(float((blanked & ~near_text).mean()))
        masked_frame = apply_blank_boxes(scene.frames[0], [(0, 0, 0, 0)])  # a copy
        masked_frame[blanked] = 0
        for token in scene.tokens:
            covered, after = score_token(masked_frame, blanked, scene.glyphs, token)
            before = token_readable(scene.frames[0], token)
            what = f"scene {n} {scene.background} {token.kind} {token.size}px {token.font} light={token.light}"
            for tally in (total, by_background.setdefault(scene.background, Tally()),
                          next(t for (lo, hi), t in by_size.items() if lo <= token.size <= hi)):
                tally.add(covered, before, after, what)
            exported += not scene_refused
            leaked += after and not covered and not scene_refused
        if verbose:
            print(f"scene {n}: {scene.background} {len(scene.frames)} frames {len(scene.tokens)} tokens "
                  f"{findings['seconds']:.1f} s", file=sys.stderr)
    free_area: list[float] = []
    for _ in range(free):
        scene = make_scene(rng, tokens=0)
        blanked, findings = evaluate_scene(scene, mode, step)
        free_area.append(float(blanked.mean()))
        per_frame.extend(findings["per_frame"])  # type: ignore[arg-type]
    lines = [
        "| tokens | planted | recall (removed) | recall among readable before (readable before) | covered >= 99 % of ink |",
        "| --- | --- | --- | --- | --- |",
        total.row("all"),
        *(by_size[b].row(f"{b[0]}-{b[1]} px") for b in SIZE_BUCKETS),
        *(t.row(f"background {k}") for k, t in sorted(by_background.items())),
    ]
    report = {
        "table": "\n".join(lines),
        "recall": total.recall if total.planted else None,
        "recall_by_size": {f"{lo}-{hi}": round(t.recall, 4) for (lo, hi), t in by_size.items() if t.planted},
        "planted": total.planted,
        "misses": total.misses,
        "scenes_refused_by_second_pass": refused,
        "tokens_in_written_outputs": exported,
        "tokens_readable_in_written_outputs": leaked,
        "text_scenes_area_masked_beyond_tokens_mean": statistics.fmean(extra_area) if extra_area else None,
        "text_scenes_area_masked_beyond_tokens_max": max(extra_area) if extra_area else None,
        "free_scenes": free,
        "free_area_mean": statistics.fmean(free_area) if free_area else None,
        "free_area_max": max(free_area) if free_area else None,
        "ocr_seconds_per_frame_median": statistics.median(per_frame) if per_frame else None,
        "ocr_seconds_per_frame_max": max(per_frame) if per_frame else None,
        "clips": [{"frames": f, "seconds": round(s, 2)} for f, s in per_clip],
    }
    return report


def scene_dataset(scene: TextScene) -> object:
    """A scene as an Ultrasound (Multi-frame) Image with no preset and no regions: without
    ``--redact-text`` it is refused (it may carry burned-in text and nothing covers it)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    frames = scene.frames
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    multi = len(frames) > 1
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1" if multi else "1.2.840.10008.5.1.4.1.1.6.1"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientName, ds.PatientID = "US", "EVAL^SCENE", "EVAL-0001"
    colour = frames.ndim == 4
    pixels = frames if multi else frames[0]
    ds.set_pixel_data(pixels, "RGB" if colour else "MONOCHROME2", 8, generate_instance_uid=False)
    if multi:
        ds.CineRate = 20
    return ds


def pipeline_timing(count: int, seed: int, mode: RedactText) -> dict[str, object]:
    """Export ``count`` generated scenes (half stills, half 2-60-frame clips) as DICOM files through
    the API with ``--redact-text`` and ``--jobs 1``, then ``--jobs 2``: the redaction runs in the
    workers, so the second is faster on two free cores."""
    import tempfile

    from dcmexport import api

    rng = np.random.default_rng(seed)
    rows: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        frames_total = 0
        for n in range(count):
            scene = make_scene(rng, tokens=int(rng.integers(3, 7)), frames=1 if n % 2 == 0 else None)
            frames_total += len(scene.frames)
            scene_dataset(scene).save_as(folder / f"scene{n:03d}.dcm", enforce_file_format=True)  # type: ignore[attr-defined]
        rows["objects"], rows["frames"] = count, frames_total
        for jobs in (1, 2):
            started = time.perf_counter()
            batch = api.export(folder, Path(tmp) / f"out{jobs}", redact_text=mode.value, jobs=jobs)
            wall = time.perf_counter() - started
            seconds = [float(r.text_findings.get("seconds", 0)) for r in batch.results]
            rows[f"jobs{jobs}"] = {
                "wall_seconds": round(wall, 1), "seconds_per_object": round(wall / count, 2),
                "statuses": {str(s): sum(1 for r in batch.results if r.status == s)
                             for s in {r.status for r in batch.results}},
                "ocr_seconds_total": round(sum(seconds), 1),
            }  # fmt: skip
        rows["speedup_jobs2"] = round(rows["jobs1"]["wall_seconds"] / rows["jobs2"]["wall_seconds"], 2)  # type: ignore[index]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=50)
    parser.add_argument("--free", type=int, default=20, help="text-free scenes (masked-area check)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--mode", choices=["all", "phi"], default="all")
    parser.add_argument("--step", type=int, default=10)
    parser.add_argument("--real", action="store_true", help="also check deid-data's real ultrasound files")
    parser.add_argument("--pipeline", type=int, default=0, metavar="N",
                        help="also export N generated scenes as DICOM with --jobs 1 and 2 (OCR in the workers)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    report = run(args.scenes, args.free, args.seed, RedactText(args.mode), args.step, args.verbose)
    if args.pipeline:
        report["pipeline"] = pipeline_timing(args.pipeline, args.seed + 1, RedactText(args.mode))
    if args.real:
        from bench.ocr_real import check_real_ultrasound

        report["real"] = check_real_ultrasound()
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(report.pop("table"))
    print(json.dumps({k: v for k, v in report.items() if k != "misses"}, indent=2))
    if report["misses"]:
        print("misses:", *report["misses"], sep="\n  ")  # type: ignore[arg-type]
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
