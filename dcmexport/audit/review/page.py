"""The review page itself: one self-contained ``review.html`` (pure rendering, then an atomic write).

Everything written into the page is HTML-escaped. The manifest is PHI-free by
construction (output names, statuses, notes), and the output directory's own
path is deliberately left out: the page lives in the folder that is shared.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html
import math
from collections.abc import Sequence
from pathlib import Path

from dcmexport.audit.review.items import (
    MISSING,
    NO_PREVIEW,
    OUTSIDE,
    PRESENT,
    THUMB_MAX_SIDE,
    UNREADABLE,
    ManifestSummary,
    OutputState,
    ReviewItem,
    read_review_items,
)

REVIEW_NAME = "review.html"
#: thumbnails smaller than this (long side, px) are displayed enlarged by a whole factor
THUMB_MIN_DISPLAY = 160

_CSS = """
:root{--mask:#ff1f8f;--keep:#12c26b;--text:#ff9800;--ocrkept:#1e88e5;--ocrcheck:#d50000;--ink:#1d2330;--muted:#5b6475;--bg:#f3f4f7;--card:#fff;--line:#d9dce3}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{position:sticky;top:0;z-index:2;background:#1d2330;color:#fff;padding:10px 20px;display:flex;flex-wrap:wrap;gap:8px 24px;align-items:center}
header h1{font-size:17px;margin:0;font-weight:600}
#counter{font-weight:700;font-variant-numeric:tabular-nums}
body.all-done #counter{color:#7dffb5}
header button{font:inherit;padding:4px 12px;border-radius:4px;border:1px solid #8b93a5;background:#2d3547;color:#fff;cursor:pointer}
header button:hover{background:#3b455c}
.legend{display:flex;gap:14px;font-size:13px}
.sw{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:-1px;border:2px solid}
.sw.mask{border-color:var(--mask)}.sw.keep{border-color:var(--keep);border-style:dashed}.sw.text{border-color:var(--text)}.sw.ocr-kept{border-color:var(--ocrkept);border-style:dotted}.sw.ocr-check{border-color:var(--ocrcheck)}
.summary{padding:10px 20px;color:var(--muted)}
.summary strong{color:var(--ink)}
.summary .warn{color:#a4161a;font-weight:600}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:14px;padding:0 20px 30px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px;display:flex;flex-direction:column;gap:8px}
/* a clip's three frames side by side: the card takes a whole row */
.card.clip{grid-column:1/-1}
.card.checked{border-color:var(--keep);box-shadow:0 0 0 2px var(--keep) inset}
.card.missing,.card.unreadable,.card.outside{border-color:#e5a0a0;background:#fff6f6}
.card h2{font-size:14px;margin:0;word-break:break-all}
.badge{display:inline-block;font-size:11px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;padding:1px 6px;border-radius:3px;background:#e6e8ee;color:var(--muted);margin-left:6px}
.badge.missing,.badge.unreadable,.badge.outside{background:#a4161a;color:#fff}
.thumbs{display:flex;flex-wrap:wrap;gap:6px}
figure{margin:0}
figcaption{font-size:11px;color:var(--muted)}
.frame{position:relative;display:inline-block;line-height:0;background:#000}
.frame img{display:block;max-width:100%;height:auto}
.frame img.enlarged{image-rendering:pixelated}
.frame svg{position:absolute;left:0;top:0;width:100%;height:100%;overflow:hidden;pointer-events:none}
.frame rect.mask{fill:var(--mask);fill-opacity:.12;stroke:var(--mask);stroke-width:2}
.frame rect.keep{fill:none;stroke:var(--keep);stroke-width:2;stroke-dasharray:6 3}
.frame rect.text{fill:none;stroke:var(--text);stroke-width:2}
.frame rect.ocr-kept{fill:none;stroke:var(--ocrkept);stroke-width:1.5;stroke-dasharray:2 2}
.frame rect.ocr-check{fill:var(--ocrcheck);fill-opacity:.15;stroke:var(--ocrcheck);stroke-width:3}
dl{display:grid;grid-template-columns:max-content 1fr;gap:1px 10px;margin:0;font-size:12.5px}
dt{color:var(--muted)}dd{margin:0;word-break:break-word}
.problem{color:#a4161a;font-weight:600;margin:0}
label.check{display:flex;gap:8px;align-items:center;font-weight:600;padding-top:4px;border-top:1px solid var(--line);cursor:pointer}
label.check input{width:18px;height:18px}
label.check.disabled{color:var(--muted);font-weight:400;cursor:default}
#selftest{display:none}
"""

_JS = r"""
(function () {
  "use strict";
  var selftest = window.location.hash === "#selftest";
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input.reviewed"));
  var counter = document.getElementById("counter");
  var prefix = "dcmexport-review:";

  function storage() {
    // file:// pages may have no usable storage (private windows, strict
    // settings): the page works without it, the state just is not remembered.
    try {
      var s = window.localStorage;
      var probe = prefix + "probe";
      s.setItem(probe, "1");
      s.removeItem(probe);
      return s;
    } catch (e) {
      return null;
    }
  }
  var store = selftest ? null : storage();

  function cardOf(box) {
    var node = box;
    while (node && !(node.classList && node.classList.contains("card"))) { node = node.parentNode; }
    return node;
  }

  function update() {
    var done = 0;
    boxes.forEach(function (box) {
      if (box.checked) { done += 1; }
      var card = cardOf(box);
      if (card) { card.classList.toggle("checked", box.checked); }
    });
    counter.textContent = done + " / " + boxes.length;
    document.body.classList.toggle("all-done", boxes.length > 0 && done === boxes.length);
    return done;
  }

  function state() {
    var files = Array.prototype.slice.call(document.querySelectorAll(".card")).map(function (card) {
      var box = card.querySelector("input.reviewed");
      return {
        name: card.getAttribute("data-name"),
        sha256: card.getAttribute("data-sha256") || null,
        state: card.getAttribute("data-state"),
        reviewed: box ? box.checked : false
      };
    });
    return {
      tool: "dcmexport",
      kind: "review-state",
      page_generated: document.body.getAttribute("data-generated"),
      saved: new Date().toISOString(),
      reviewed: files.filter(function (f) { return f.reviewed; }).length,
      total: boxes.length,
      files: files
    };
  }

  function download() {
    var text = JSON.stringify(state(), null, 2) + "\n";
    var blob = new Blob([text], { type: "application/json" });
    var url = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = url;
    a.download = "review-state.json";
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
    window.setTimeout(function () { URL.revokeObjectURL(url); }, 2000);
  }

  boxes.forEach(function (box) {
    // A check applies to the exact bytes reviewed: the key is the file's SHA-256,
    // so a re-exported (changed) file comes back unchecked.
    var key = prefix + box.getAttribute("data-sha256");
    if (store && store.getItem(key) === "1") { box.checked = true; }
    box.addEventListener("change", function () {
      if (store) {
        try {
          if (box.checked) { store.setItem(key, "1"); } else { store.removeItem(key); }
        } catch (e) { /* storage full or revoked: keep working without it */ }
      }
      update();
    });
  });
  document.getElementById("download").addEventListener("click", download);
  update();

  if (selftest) {
    // Used by the browser test: tick every box, build the exported state and
    // its Blob exactly as the button does (without starting a download) and
    // put the JSON in the page; nothing is stored.
    boxes.forEach(function (box) { box.checked = true; });
    update();
    var text = JSON.stringify(state());
    URL.revokeObjectURL(URL.createObjectURL(new Blob([text], { type: "application/json" })));
    var out = document.getElementById("selftest");
    out.textContent = text;
    console.info("dcmexport-review selftest ok");
  }
  document.body.setAttribute("data-ready", "1");
})();
"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt_num(value: float) -> str:
    return f"{value:g}"


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit} ({size} B)"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def _aspect(width: int, height: int) -> str:
    g = math.gcd(width, height) or 1
    w, h = width // g, height // g
    ratio = f"{width / height:.3f}" if height else "?"
    return f"{w}:{h} ({ratio})" if w <= 64 and h <= 64 else ratio


def _overlay(item: ReviewItem) -> str:
    """An SVG in output pixel coordinates laid over a thumbnail: it scales with the image exactly."""
    if item.width is None or item.height is None or (not item.entry.masks and not item.entry.keep):
        return ""
    parts = [f'<svg viewBox="0 0 {item.width} {item.height}" preserveAspectRatio="none" aria-hidden="true">']
    hits = item.entry.text_hits
    kept = tuple(h.box for h in hits if h.stage == "detect" and h.category == "kept")
    left = tuple(h.box for h in hits if h.stage == "check")  # the second pass read text after masking
    for cls, rects in (("keep", item.entry.keep or ()), ("mask", item.entry.masks), ("text", item.entry.text_boxes),
                       ("ocr-kept", kept), ("ocr-check", left)):
        for x0, y0, x1, y1 in rects:
            parts.append(
                f'<rect class="{cls}" x="{_fmt_num(x0)}" y="{_fmt_num(y0)}" width="{_fmt_num(x1 - x0)}" '
                f'height="{_fmt_num(y1 - y0)}" vector-effect="non-scaling-stroke"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _facts(item: ReviewItem) -> list[tuple[str, str]]:
    entry = item.entry
    facts: list[tuple[str, str]] = [("type", item.kind)]
    if item.width is not None and item.height is not None:
        facts.append(("pixels", f"{item.width} × {item.height}"))
        facts.append(("aspect", _aspect(item.width, item.height)))
    facts.extend(item.extra.items())
    if item.file_size is not None:
        facts.append(("file size", _human_size(item.file_size)))
    if item.kind == "clip" and item.frames is not None:
        facts.append(("frames", str(item.frames)))
        if item.fps:
            rate = f"{item.fps:.3f}".rstrip("0").rstrip(".") + " fps"
            if entry.fps_source:
                rate += f" (from {entry.fps_source})"
            facts.append(("frame rate", rate))
        if item.codec:
            facts.append(("codec", item.codec))
    if item.pages > 1:
        facts.append(("pages", f"{item.pages} (first shown)"))
    facts.append(("manifest", entry.status + (f": {entry.reason}" if entry.reason else "")))
    if (
        entry.frames is not None
        and item.kind == "clip"
        and item.frames is not None
        and entry.frames != item.frames
    ):
        facts.append(("manifest frames", f"{entry.frames} (file holds {item.frames})"))
    facts.append(("masked areas", str(len(entry.masks))))
    facts.append(("kept US regions", "not restricted" if entry.keep is None else str(len(entry.keep))))
    if entry.bad_rects:
        facts.append(("unreadable rectangles", f"{entry.bad_rects} (not drawn)"))
    if entry.text:
        t = entry.text
        facts.append(("OCR text boxes", f"{len(entry.text_boxes)} masked ({int(t.get('masked', 0))} of "
                      f"{int(t.get('words', 0))} words read on {int(t.get('frames', 0))} frame(s))"))
        facts.append(("OCR second pass", f"{int(t.get('check_words', 0))} word(s) read after masking, "
                      f"{int(t.get('check_phi', 0))} PHI-like, {int(t.get('check_inside', 0))} inside masks"))
        categories: dict[str, int] = {}
        for hit in entry.text_hits:
            if hit.stage == "detect":
                categories[hit.category] = categories.get(hit.category, 0) + 1
        if categories:
            facts.append(("OCR places read", ", ".join(f"{n} {c}" for c, n in sorted(categories.items()))))
    for note in entry.notes:
        facts.append(("note", note))
    if item.sha256:
        facts.append(("SHA-256", item.sha256[:16] + "…"))
    return facts


def _card(item: ReviewItem, index: int) -> str:
    entry = item.entry
    reviewable = item.state == PRESENT and bool(item.thumbnails)
    attrs = f'data-name="{_esc(entry.name)}" data-state="{_esc(item.state)}"'
    if item.sha256:
        attrs += f' data-sha256="{_esc(item.sha256)}"'
    out = [f'<section class="card {_esc(item.state)} {_esc(item.kind)}" id="card-{index}" {attrs}>']
    badge = (
        "" if item.state == PRESENT else f'<span class="badge {_esc(item.state)}">{_esc(item.state)}</span>'
    )
    out.append(f"<h2>{_esc(entry.name)}{badge}</h2>")
    if item.thumbnails:
        out.append('<div class="thumbs">')
        overlay = _overlay(item)
        for thumb in item.thumbnails:
            # Small outputs are shown enlarged (whole-number factor, sharp pixels)
            # so they can be inspected; the embedded PNG stays at its own size.
            factor = max(1, THUMB_MIN_DISPLAY // max(thumb.width, thumb.height))
            cls = ' class="enlarged"' if factor > 1 else ""
            out.append(
                f'<figure><div class="frame"><img{cls} src="{_esc(thumb.data_uri)}" width="{thumb.width * factor}" '
                f'height="{thumb.height * factor}" alt="{_esc(thumb.label)} of {_esc(entry.name)}">{overlay}</div>'
                f"<figcaption>{_esc(thumb.label)}</figcaption></figure>"
            )
        out.append("</div>")
    if item.problem:
        out.append(f'<p class="problem">{_esc(item.problem)}</p>')
    out.append("<dl>")
    for key, value in _facts(item):
        out.append(f"<dt>{_esc(key)}</dt><dd>{_esc(value)}</dd>")
    out.append("</dl>")
    if reviewable:
        out.append(
            f'<label class="check"><input type="checkbox" class="reviewed" id="check-{index}" '
            f'data-sha256="{_esc(item.sha256 or "")}"> reviewed: no PHI visible</label>'
        )
    else:
        out.append('<label class="check disabled">nothing to review on this page</label>')
    out.append("</section>")
    return "".join(out)


def render_review_html(
    summary: ManifestSummary, items: Sequence[ReviewItem], *, generated: str | None = None
) -> str:
    """Turn inspected items into the self-contained page (pure: no file access).

    :param summary: the parsed manifest (for the counts at the top).
    :param items: one per card, in display order.
    :param generated: the page's timestamp (ISO 8601); now, in UTC, if omitted.
    :returns: the HTML text.
    """
    generated = generated or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    reviewable = sum(1 for i in items if i.state == PRESENT and i.thumbnails)
    by_state: dict[OutputState, int] = {}
    for item in items:
        by_state[item.state] = by_state.get(item.state, 0) + 1
    # Only our own inline style and script may run, and nothing may be fetched:
    # images are data: URIs, and everything else is refused by the browser.
    csp = (
        f"default-src 'none'; img-src data:; style-src {_csp_hash(_CSS)}; script-src {_csp_hash(_JS)}; "
        "base-uri 'none'; form-action 'none'"
    )
    summary_bits = [f"<strong>{len(items)}</strong> output file{'s' if len(items) != 1 else ''}"]
    for state in (MISSING, UNREADABLE, OUTSIDE, NO_PREVIEW):
        if by_state.get(state):
            cls = "warn" if state != NO_PREVIEW else ""
            summary_bits.append(f'<span class="{cls}">{by_state[state]} {_esc(state)}</span>')
    objects = ", ".join(f"{n} {_esc(s)}" for s, n in sorted(summary.object_counts.items()))
    if objects:
        summary_bits.append(f"objects in the manifest: {objects}")
    if summary.runs > 1:
        summary_bits.append(f"{summary.runs} runs (latest record per file shown)")
    if summary.bad_lines:
        summary_bits.append(
            f'<span class="warn">{summary.bad_lines} unreadable manifest line(s) ignored</span>'
        )
    body = "\n".join(_card(item, i) for i, item in enumerate(items))
    if not items:
        body = '<p class="summary">The manifest lists no output files.</p>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_esc(csp)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dcmexport review</title>
<style>{_CSS}</style>
</head>
<body data-generated="{_esc(generated)}" data-reviewable="{reviewable}">
<header>
<h1>dcmexport review</h1>
<span>reviewed <span id="counter">0 / {reviewable}</span></span>
<button type="button" id="download">Download review state (JSON)</button>
<span class="legend"><span><span class="sw mask"></span>masked (blanked)</span><span><span class="sw keep"></span>kept ultrasound region</span><span><span class="sw text"></span>text found by OCR (masked)</span><span><span class="sw ocr-kept"></span>word OCR read and kept</span><span><span class="sw ocr-check"></span>OCR second pass: text left</span></span>
</header>
<p class="summary">{" · ".join(summary_bits)}. Look at every image for names, IDs, dates or faces before sharing; tick a file only when nothing identifying is visible. Page generated {_esc(generated)}.</p>
<main>
{body}
</main>
<pre id="selftest"></pre>
<script>{_JS}</script>
</body>
</html>
"""


def build_review_html(out_dir: Path, *, max_side: int = THUMB_MAX_SIDE) -> str:
    """Build the review page for an output directory, without writing it.

    :param out_dir: a directory written by ``dcmexport export`` (holds ``manifest.jsonl``).
    :param max_side: thumbnails' long side at most, in pixels.
    :returns: the self-contained HTML text.
    :raises InputError: ``out_dir`` has no ``manifest.jsonl``.
    """
    summary, items = read_review_items(Path(out_dir), max_side=max_side)
    return render_review_html(summary, items)


def write_review(out_dir: Path, *, max_side: int = THUMB_MAX_SIDE) -> Path:
    """Write ``out_dir/review.html`` atomically (replacing an older one) and return its path.

    :param out_dir: a directory written by ``dcmexport export``.
    :param max_side: thumbnails' long side at most, in pixels.
    :returns: the path of ``review.html``.
    :raises InputError: ``out_dir`` has no ``manifest.jsonl``.
    :raises EncodeError: the page cannot be written (e.g. ``review.html`` is a symlink).
    """
    from dcmexport.atomic import atomic_output

    out_dir = Path(out_dir)
    text = build_review_html(out_dir, max_side=max_side)
    final = out_dir / REVIEW_NAME
    with atomic_output(final, overwrite=True) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return final
