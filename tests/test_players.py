"""Players open the clips (issue #16 item 4): each clip format loaded into a ``<video>`` or ``<img>`` element of
headless Chromium, served over HTTP, and played: ready state, duration, size, and the frames decoded.

Chromium is driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``: NUL-separated
JSON on file descriptors 3 and 4), so no websocket client is needed. Video is played to the end and
``getVideoPlaybackQuality().totalVideoFrames`` counted; animated images are checked with ``<img>`` (loads,
natural size) and WebCodecs' ``ImageDecoder`` (frame count, every frame's duration, repetition count).

Debian's chromium is built without the proprietary H.264 decoder: ``canPlayType`` says "" for
``video/mp4; codecs="avc1.64001e"``, and the MP4 case is then skipped with that answer (never passed).
Skipped as a whole when no chromium is installed (``.ci/run`` installs Debian's).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dcmexport import api
from dcmexport.deid import Key
from tests.samplegen import make_us_gray_cine, make_us_rgb_cine, write_dataset

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and Path(p).exists()), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

KEY = Key(b"players-test-key-0123456789abcde")
MIME = {".mp4": "video/mp4", ".webm": "video/webm", ".gif": "image/gif", ".webp": "image/webp",
        ".apng": "image/apng", ".html": "text/html"}
#: what canPlayType is asked for each video format (H.264 High 3.0; VP9 profile 0)
CODEC_TYPES = {".mp4": 'video/mp4; codecs="avc1.64001e"', ".webm": 'video/webm; codecs="vp09.00.10.08"'}
IMAGE_TYPES = {".gif": "image/gif", ".webp": "image/webp", ".apng": "image/png"}
FRAMES = 12

PROBE_JS = """
async (name, kind, type) => {
  const timeout = (ms, what) => new Promise((_, no) => setTimeout(() => no(new Error(what + ": timeout")), ms));
  if (kind === "video") {
    const v = document.createElement("video");
    v.muted = true; v.preload = "auto"; v.src = name; document.body.appendChild(v);
    const can = v.canPlayType(type);
    if (can === "") return {can};
    await Promise.race([new Promise((ok, no) => { v.oncanplaythrough = ok; v.onerror = () => no(new Error(
      "error " + (v.error && v.error.code) + " " + (v.error && v.error.message))); }), timeout(15000, "load")]);
    const ready = v.readyState, duration = v.duration;
    await v.play();
    await Promise.race([new Promise(ok => { v.onended = ok; }), timeout(15000, "play")]);
    const q = v.getVideoPlaybackQuality();
    return {can, ready, duration, width: v.videoWidth, height: v.videoHeight, frames: q.totalVideoFrames,
            dropped: q.droppedVideoFrames, ended: v.ended};
  }
  const img = new Image();
  img.src = name;
  await Promise.race([img.decode(), timeout(15000, "img")]);
  const data = await (await fetch(name)).arrayBuffer();
  const decoder = new ImageDecoder({data, type});
  await decoder.tracks.ready;
  const track = decoder.tracks.selectedTrack;
  await decoder.completed;
  const durations = [];
  for (let i = 0; i < track.frameCount; i++) {
    const {image} = await decoder.decode({frameIndex: i});
    durations.push(image.duration / 1000);  // microseconds -> ms
    image.close();
  }
  return {complete: img.complete, width: img.naturalWidth, height: img.naturalHeight, frames: track.frameCount,
          animated: track.animated, repetition: track.repetitionCount, durations};
}
"""


class DevTools:
    """A minimal DevTools-protocol client over ``--remote-debugging-pipe`` (fd 3: commands in, fd 4: out)."""

    def __init__(self, chromium: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # chromium reads commands on fd 3 and writes replies on fd 4. The child moves the pipes there; it keeps
        # no other descriptor of ours (Python's are not inheritable), so close_fds is off to keep 3 and 4.
        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--mute-audio",
             "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={profile}",
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=False,
            preexec_fn=functools.partial(_pipes_to_3_and_4, to_chrome_r, from_chrome_w),
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._id = 0

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply["result"])

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(raw))

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def _pipes_to_3_and_4(commands: int, replies: int) -> None:
    """In the child, before exec: the command pipe on fd 3, the reply pipe on fd 4 (via fds >= 10, so
    neither overwrites the other)."""
    high = fcntl.fcntl(commands, fcntl.F_DUPFD, 10), fcntl.fcntl(replies, fcntl.F_DUPFD, 10)
    os.dup2(high[0], 3)
    os.dup2(high[1], 4)


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME}

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One short clip per format from a generated RGB cine (12 frames of 160x120 at 25 fps), and an MP4, a
    WebM and a GIF with a varying Frame Time Vector (grey, 97x75)."""
    root = tmp_path_factory.mktemp("players")
    rgb = write_dataset(make_us_rgb_cine(rows=120, columns=160, frames=FRAMES, frame_time_ms=40), root / "rgb.dcm")
    grey = make_us_gray_cine(rows=75, columns=97, frames=FRAMES)
    grey.FrameTimeVector = ["0"] + ["40" if i % 2 else "80" for i in range(1, FRAMES)]
    grey.FrameIncrementPointer = 0x00181065
    del grey.CineRate
    vfr = write_dataset(grey, root / "vfr.dcm")
    out: dict[str, Path] = {}
    for fmt in ("mp4", "webm", "gif", "webp", "apng"):
        (result,) = api.export([rgb], root / fmt, format=fmt, key=KEY, accept_burned_in=True).results
        assert result.status == "written", result.reason
        out[fmt] = result.outputs[0]
    for fmt in ("mp4", "webm", "gif"):
        (result,) = api.export([vfr], root / f"vfr-{fmt}", format=fmt, key=KEY).results
        assert result.status == "written", result.reason
        out[f"vfr-{fmt}"] = result.outputs[0]
    return out


@pytest.fixture(scope="module")
def browser(clips: dict[str, Path]) -> Iterator[tuple[DevTools, str, str]]:
    """Chromium on a page served from a folder holding every clip; yields (devtools, session, base URL)."""
    site = Path(tempfile.mkdtemp(prefix="players-site-"))
    for name, path in clips.items():
        shutil.copy(path, site / f"{name}{path.suffix}")
    (site / "index.html").write_text("<!doctype html><html><body></body></html>")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    assert CHROMIUM is not None
    tools = DevTools(CHROMIUM, site / "profile")
    try:
        target = tools.call("Target.createTarget", url=base + "index.html")["targetId"]
        session = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        tools.call("Runtime.enable", session)
        # Wait until the page's document is ours: media from another origin than the document's is refused
        # ("Media load rejected by URL safety check") while the tab still shows about:blank.
        for _ in range(200):
            got = tools.call("Runtime.evaluate", session, expression="location.href + '|' + document.readyState",
                             returnByValue=True)
            if got["result"].get("value") == base + "index.html|complete":
                break
            time.sleep(0.05)
        else:
            raise AssertionError("chromium did not load the test page within 10 s")
        yield tools, session, base
    finally:
        tools.close()
        server.shutdown()
        shutil.rmtree(site, ignore_errors=True)


def probe(browser: tuple[DevTools, str, str], name: str, kind: str, type_: str) -> dict[str, Any]:
    tools, session, _ = browser
    reply = tools.call("Runtime.evaluate", session, awaitPromise=True, returnByValue=True,
                       expression=f"({PROBE_JS})({json.dumps(name)}, {json.dumps(kind)}, {json.dumps(type_)})")
    if "exceptionDetails" in reply:
        raise AssertionError(f"{name}: {reply['exceptionDetails'].get('exception', {}).get('description')}")
    return dict(reply["result"]["value"])


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_video_plays(browser: tuple[DevTools, str, str], clips: dict[str, Path], fmt: str) -> None:
    suffix = f".{fmt}"
    got = probe(browser, f"{fmt}{suffix}", "video", CODEC_TYPES[suffix])
    if got["can"] == "":
        pytest.skip(f"this Chromium cannot play {fmt}: canPlayType({CODEC_TYPES[suffix]!r}) = ''")
    assert got["ready"] >= 3 and got["ended"]  # HAVE_FUTURE_DATA or more, then played to the end
    assert got["duration"] == pytest.approx(FRAMES * 0.040, abs=0.045)
    assert (got["width"], got["height"]) == (160, 120)
    assert got["frames"] == FRAMES, got


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_variable_rate_video_plays(browser: tuple[DevTools, str, str], fmt: str) -> None:
    got = probe(browser, f"vfr-{fmt}.{fmt}", "video", CODEC_TYPES[f".{fmt}"])
    if got["can"] == "":
        pytest.skip(f"this Chromium cannot play {fmt}: canPlayType({CODEC_TYPES[f'.{fmt}']!r}) = ''")
    assert got["ended"] and got["frames"] == FRAMES, got
    # 6 intervals of 40 ms, 5 of 80 ms; the last frame lasts the mean interval (640 / 11 ms) in WebM, and in MP4
    # as long as the interval before it (ffmpeg's MP4 muxer takes the last duration from the encoder, not the input)
    last = 0.640 / 11 if fmt == "webm" else 0.040
    assert got["duration"] == pytest.approx(0.640 + last, abs=0.005)
    assert (got["width"], got["height"]) == (98, 76)


@pytest.mark.parametrize("fmt", ["gif", "webp", "apng"])
def test_animated_image_plays(browser: tuple[DevTools, str, str], fmt: str) -> None:
    got = probe(browser, f"{fmt}.{fmt}", "image", IMAGE_TYPES[f".{fmt}"])
    assert got["complete"] and (got["width"], got["height"]) == (160, 120)
    assert got["animated"] and got["repetition"] == float("inf") or got["repetition"] is None, got
    # libwebp merges identical consecutive frames (their durations add up): a WebP may hold fewer
    assert (got["frames"] <= FRAMES) if fmt == "webp" else got["frames"] == FRAMES
    assert sum(got["durations"]) == pytest.approx(FRAMES * 40, abs=10)


def test_variable_rate_gif_durations(browser: tuple[DevTools, str, str]) -> None:
    got = probe(browser, "vfr-gif.gif", "image", "image/gif")
    assert got["frames"] == FRAMES
    assert got["durations"][:-1] == [40 if i % 2 == 0 else 80 for i in range(FRAMES - 1)]
