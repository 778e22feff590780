"""The per-object guard (issue #18 item 3): an expired --timeout is always reported as a timeout.

The alarm raises between any two bytecodes; these tests place it deterministically
(a body that blocks until it fires) where it used to surface as ``internal error
(RuntimeError)``: inside a thread's start, or turned into another exception by cleanup.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dcmexport.interrupts import critical_section
from dcmexport.pipeline.guard import run_guarded
from dcmexport.results import FAILED, WRITTEN, ExportResult

TIMEOUT_LINE = "took longer than --timeout"


def _block() -> None:
    time.sleep(30)  # only the alarm ends it (the test fails on its duration otherwise)


class TestRunGuarded:
    def test_a_blocked_body_is_stopped(self, tmp_path: Path) -> None:
        started = time.monotonic()
        result = run_guarded(tmp_path / "x.dcm", lambda r: _block(), timeout=0.1)
        assert time.monotonic() - started < 10
        assert result.status == FAILED and TIMEOUT_LINE in (result.reason or "")
        assert result.error_kind == "time-limit"

    @pytest.mark.parametrize("turned_into", [RuntimeError, ValueError, StopIteration])
    def test_an_alarm_turned_into_another_exception_is_still_a_timeout(
        self, tmp_path: Path, turned_into: type[Exception]
    ) -> None:
        def body(result: ExportResult) -> None:
            try:
                _block()
            except BaseException:  # a library's cleanup that raises its own error
                raise turned_into("cleanup failed") from None

        result = run_guarded(tmp_path / "x.dcm", body, timeout=0.1)
        assert TIMEOUT_LINE in (result.reason or ""), result.reason
        assert "internal error" not in (result.reason or "")

    def test_a_generator_closed_by_the_alarm_is_a_timeout(self, tmp_path: Path) -> None:
        def frames():  # type: ignore[no-untyped-def]
            try:
                while True:
                    yield 0
            except GeneratorExit:
                yield 1  # "generator ignored GeneratorExit": a RuntimeError from close()

        def body(result: ExportResult) -> None:
            gen = frames()
            next(gen)
            try:
                _block()
            finally:
                gen.close()

        result = run_guarded(tmp_path / "x.dcm", body, timeout=0.1)
        assert TIMEOUT_LINE in (result.reason or ""), result.reason

    def test_a_written_object_is_not_undone_by_a_late_alarm(self, tmp_path: Path) -> None:
        def body(result: ExportResult) -> None:
            result.status = WRITTEN
            _block()

        assert run_guarded(tmp_path / "x.dcm", body, timeout=0.1).status == WRITTEN

    def test_without_an_alarm_errors_keep_their_kind(self, tmp_path: Path) -> None:
        def body(result: ExportResult) -> None:
            raise RuntimeError("a bug")

        result = run_guarded(tmp_path / "x.dcm", body, timeout=30)
        assert result.error_kind == "internal"


class TestCriticalSection:
    def test_the_alarm_waits_for_the_section_to_end(self, tmp_path: Path) -> None:
        done: list[str] = []

        def body(result: ExportResult) -> None:
            with critical_section():
                time.sleep(0.4)  # the alarm fires meanwhile (after 0.1 s) and waits
                done.append("section")
            done.append("after")  # never reached: the pending alarm is raised at the section's end

        result = run_guarded(tmp_path / "x.dcm", body, timeout=0.1)
        assert done == ["section"]
        assert TIMEOUT_LINE in (result.reason or "")


class TestThreadsStartedUnderTheAlarm:
    """The alarm landing while a thread starts (ffmpeg's stderr drain, the group's flusher), seen as RuntimeError:
    'cannot join thread before it is started'): deterministic with a thread whose start is slow."""

    def test_alarm_during_the_drain_threads_start(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        import dcmexport.encode.ffmpeg as ffmpeg
        import dcmexport.encode.video as video
        from dcmexport.options import OutputFormat

        class SlowStart(threading.Thread):
            def start(self) -> None:
                time.sleep(0.4)  # the alarm (0.1 s) fires here, before the thread runs
                super().start()

        monkeypatch.setattr(ffmpeg.threading, "Thread", SlowStart)  # the writers' base starts the drain
        out = tmp_path / "clip.mp4"
        seen: list[str] = []

        def body(result: ExportResult) -> None:
            writer = video.VideoWriter(out, OutputFormat.MP4, fps=10)
            try:
                for _ in range(3):
                    writer.write(np.zeros((16, 16), np.uint8))
                writer.close()
            except BaseException as exc:
                seen.append(type(exc).__name__)
                writer.abort()  # joins the drain thread: it must have started
                seen.append("aborted")
                out.unlink(missing_ok=True)
                raise
            result.status = WRITTEN

        result = run_guarded(tmp_path / "x.dcm", body, timeout=0.1)
        assert TIMEOUT_LINE in (result.reason or ""), result.reason
        assert seen == ["_Alarm", "aborted"]  # the alarm itself, after the start; abort() did not fail
        assert not out.exists()

    def test_alarm_during_the_flush_threads_start(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        import dcmexport.atomic as atomic

        class SlowStart(threading.Thread):
            def start(self) -> None:
                time.sleep(0.4)
                super().start()

        monkeypatch.setattr(atomic.threading, "Thread", SlowStart)

        def body(result: ExportResult) -> None:
            with atomic.atomic_output(tmp_path / "a.png") as tmp:
                tmp.write_bytes(b"x")  # handed to the group: its flush thread starts now
            _block()

        with atomic.deferred_commits():  # its close() joins the flush thread: no RuntimeError
            result = run_guarded(tmp_path / "x.dcm", body, timeout=0.1)
        assert TIMEOUT_LINE in (result.reason or ""), result.reason
        assert not any(tmp_path.glob("*.png")) and not any(tmp_path.glob(".tmp-*"))
