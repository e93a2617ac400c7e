"""The background writer of the encoders: batches appended to a :class:`~fastdci.io.LatentsWriter`
from a daemon thread through a bounded queue, so compute and disk writes overlap and memory
stays flat when the disk is slower than the encoder. Used by :func:`fastdci.encode.encode`
and :func:`fastdci.io.encode_model`.
"""

from __future__ import annotations

import queue
import threading
import time

__all__ = ["DEFAULT_QUEUE_BATCHES", "write_batches"]

DEFAULT_QUEUE_BATCHES = 8


class _BackgroundWriter:
    """Feed ``LatentsWriter.append`` from a daemon thread through a bounded queue."""

    def __init__(self, writer, max_batches: int = DEFAULT_QUEUE_BATCHES):
        self._writer = writer
        self._q: queue.Queue = queue.Queue(maxsize=max_batches)
        self._error: BaseException | None = None
        self.busy = 0.0
        self.wait = 0.0
        self._thread = threading.Thread(target=self._run, name="fastdci-latents-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            if self._error is not None:
                continue  # drain without writing after a failure
            t = time.perf_counter()
            try:
                self._writer.append(**item)
            except BaseException as exc:  # handed to the main thread
                self._error = exc
            self.busy += time.perf_counter() - t

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, item: dict) -> None:
        self._raise()
        t = time.perf_counter()
        self._q.put(item)
        self.wait += time.perf_counter() - t

    def finish(self) -> None:
        t = time.perf_counter()
        self._q.put(None)
        self._thread.join()
        self.wait += time.perf_counter() - t
        self._raise()


def write_batches(writer, batches, *, total: int, done: int = 0,
                  progress: bool | None = None) -> tuple[float, float, float]:
    """Append ``batches`` (``LatentsWriter.append`` keyword dicts) to ``writer`` from a background
    thread and close it complete; on any error or interrupt, close it incomplete (resumable: the
    rows appended are kept) and re-raise. ``total`` and ``done`` size the progress bar. Returns
    ``(seconds, writer_busy_seconds, writer_wait_seconds)``, as in :class:`EncodeResult`."""
    from .._progress import Progress, progress_enabled

    bg = _BackgroundWriter(writer)
    completed = False
    t0 = time.perf_counter()
    try:
        with Progress(progress_enabled(progress), "encode", total, done) as bar:
            for batch in batches:
                bg.put(batch)
                bar.advance(len(batch["index"]))
        bg.finish()
        completed = True
    finally:
        getattr(batches, "close", lambda: None)()  # a generator's own cleanup runs now
        if not completed:
            # keep what was appended: the file stays incomplete and resumable (the original
            # error propagates; secondary ones while draining are dropped)
            try:
                bg.finish()
            except BaseException:
                pass
            try:
                writer.close(complete=False)
            except BaseException:
                pass
    t = time.perf_counter()
    writer.close(complete=True)
    bg.wait += time.perf_counter() - t
    return time.perf_counter() - t0, bg.busy, bg.wait
