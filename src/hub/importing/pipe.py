"""Reading and shaping a large file in reader processes while this one writes.

Each reader process (``python -m hub.importing.pipe``; one per core beside the writer's,
see :func:`reader_count`) reads the whole file but checks and shapes only its share of
it: with N readers, reader k takes the batches of :data:`PIPE_BATCH` records whose number
is k modulo N, and passes over the others without reading their content. It sends its
batches of rows ready for the database driver (:class:`~hub.importing.rows.Prepared`) over
its own pipe; the writer takes batch 0 from reader 0, batch 1 from reader 1 and so on, so
the records arrive in file order, exactly as the in-process path produces them, and the
import report is the same either way.

A thread per reader empties its pipe into a short queue, so a reader never waits while
the writer is busy in the database; the queue is bounded, so a reader ahead of the writer
waits and memory stays flat however large the file.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import pickle
import queue
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from hub.importing.rows import Prepared, RowShaper
from inspection.model import FormatError, ParsedRecord

try:
    import fcntl
except ImportError:  # pragma: no cover (not on Windows)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: Files at least this large (bytes) are read in reader processes.
PIPE_MIN_BYTES = 5 * 1024 * 1024
#: Records sent to the writer in one message.
PIPE_BATCH = 1_000
#: Most reader processes for one file (the writer is the limit beyond that).
MAX_READERS = 4
#: Seconds to wait for a reader to end once its pipe is closed.
_JOIN_S = 10.0
#: Each message is a little-endian byte length, then that many bytes of ``marshal`` (both
#: ends run the same interpreter): a kind, a number and a payload of plain values.
_FRAME = struct.Struct("<Q")
#: Messages read ahead of the writer per reader (each about a batch): bounds memory.
_QUEUED = 3
#: Pipe buffer asked for (Linux; bytes), so a reader rarely waits on the drain thread.
_PIPE_BYTES = 1 << 20

Item = Prepared | ParsedRecord
#: What travels for a shaped declaration: :class:`Prepared`'s fields, in order.
_Shaped = tuple[int, str, str, str, str, list[Any], list[tuple[Any, ...]]]


def usable_cores() -> int:
    """Return how many cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover (not on Linux)
        return os.cpu_count() or 1


def reader_count() -> int:
    """Return how many reader processes to start: one per usable core but the writer's,
    at least one and at most :data:`MAX_READERS`.

    A reader more than the cores leave room for only makes the processes take turns:
    on 2 cores, one reader beside the writer imports faster than two.
    """
    return max(1, min(MAX_READERS, usable_cores() - 1))


def _child(
    path: str,
    claimed: str | None,
    dialect_name: str,
    out: BinaryIO,
    part: int = 0,
    parts: int = 1,
    size: int = PIPE_BATCH,
) -> None:
    """Reader process: read ``path``, shape batches ``part`` modulo ``parts``, send them."""
    from sqlalchemy.dialects import postgresql, sqlite

    from hub.importing.fast import shaped_records
    from inspection.formats import detect_format
    from inspection.formats.detect import HEAD_BYTES
    from inspection.model import Declaration

    def send(kind: str, first: int, payload: Any) -> None:
        data = marshal.dumps((kind, first, payload))
        out.write(_FRAME.pack(len(data)))
        out.write(data)
        out.flush()

    def theirs(index: int) -> bool:
        """Whether record ``index`` (1-based) is in another reader's batch."""
        return (index - 1) // size % parts != part

    dialect = sqlite.dialect() if dialect_name == "sqlite" else postgresql.dialect()  # type: ignore[no-untyped-call]
    shaper = RowShaper(dialect)
    batch: list[_Shaped | bytes] = []
    read = 0
    try:
        with open(path, "rb") as stream:
            fmt = detect_format(stream.read(HEAD_BYTES), path, claimed)
            stream.seek(0)
            try:
                for rec in shaped_records(stream, fmt, path, shaper, theirs if parts > 1 else None):
                    read += 1
                    if parts > 1 and theirs(read):
                        continue
                    item = rec.item
                    if isinstance(item, Declaration):
                        item = shaper.prepare(rec.index, item)
                    if isinstance(item, Prepared):  # plain tuples travel fastest
                        batch.append(
                            (item.index, item.business_key, item.kind,
                             item.content_hash, item.extra, item.head, item.lines)
                        )  # fmt: skip
                    else:  # receipts and rejections, pickled
                        other = rec if item is rec.item else ParsedRecord(rec.index, item)
                        batch.append(pickle.dumps(other, protocol=pickle.HIGHEST_PROTOCOL))
                    if read % size == 0:
                        send("batch", stream.tell(), batch)
                        batch = []
            except FormatError as err:
                if not theirs(read + 1):  # the batch the break is in is this reader's
                    send("batch", stream.tell(), batch)
                send("broken", read, str(err))
                return
            if (read % size or not read) and not theirs(read or 1):
                send("batch", stream.tell(), batch)  # the last, short batch
            send("end", read, "")
    except FormatError as err:
        send("broken", read, str(err))
    except OSError as err:
        send("broken", read, f"{path}: cannot read the file ({err.strerror or err})")


def _widen(pipe: IO[bytes]) -> None:
    """Ask for a larger pipe buffer where the system allows it (Linux); else leave it."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe.fileno(), set_size, _PIPE_BYTES)


def _read_exactly(pipe: IO[bytes], size: int) -> bytes | None:
    """Read ``size`` bytes from ``pipe``; None when it ends first."""
    data = pipe.read(size)
    return data if len(data) == size else None


class _Channel:
    """One reader process, its pipe and the thread that drains the pipe into a queue."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._errors, env=env
        )
        assert self._proc.stdout is not None
        self._out: IO[bytes] = self._proc.stdout
        _widen(self._out)
        self._frames: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUED)
        self._stop = threading.Event()
        self._drain = threading.Thread(target=self._read_frames, name="import-pipe", daemon=True)
        self._drain.start()

    def message(self) -> tuple[str, Any, Any]:
        """Return the reader's next message; raise RuntimeError when it died instead."""
        frame = self._frames.get()
        try:
            if frame is None:
                raise EOFError("the pipe ended before the reader said it was done")
            message: tuple[str, Any, Any] = marshal.loads(frame)
            return message
        except (EOFError, ValueError, TypeError) as err:
            self._proc.wait(_JOIN_S)
            self._errors.seek(0)
            tail = self._errors.read()[-1000:].decode(errors="replace").strip()
            raise RuntimeError(
                f"the import reader process ended unexpectedly ({self._proc.returncode}): "
                f"{tail.splitlines()[-1] if tail else 'no message'}"
            ) from err

    def _read_frames(self) -> None:
        """Thread: move whole frames from the pipe to the queue; None marks the end."""
        try:
            while not self._stop.is_set():
                head = _read_exactly(self._out, _FRAME.size)
                if head is None:
                    break
                frame = _read_exactly(self._out, _FRAME.unpack(head)[0])
                if frame is None:
                    break
                while not self._stop.is_set():
                    try:
                        self._frames.put(frame, timeout=0.2)
                        break
                    except queue.Full:
                        continue
        except (OSError, ValueError):  # the pipe was closed under us: we are stopping
            pass
        finally:
            with contextlib.suppress(queue.Full):
                self._frames.put_nowait(None)

    def close(self) -> None:
        """Stop the reader process and the drain thread, and close the pipe."""
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:  # let a drain thread blocked on a full queue see the stop
                self._frames.get_nowait()
        self._out.close()
        try:
            self._proc.wait(_JOIN_S)
        except subprocess.TimeoutExpired:
            log.warning("import reader process did not stop; killing it")
            self._proc.kill()
            self._proc.wait(_JOIN_S)
        self._drain.join(_JOIN_S)
        self._errors.close()


class PipedReader:
    """Runs reader processes for one file and yields what they send, in file order.

    Items are :class:`Prepared` declarations (checked and shaped already), or
    :class:`ParsedRecord` receipts and rejections. A file that breaks raises
    :class:`FormatError` after its last good record, as the in-process reader does.
    Use as a context manager: leaving it stops the readers, whatever happened.
    """

    def __init__(
        self,
        path: Path,
        claimed: str | None,
        dialect_name: str,
        readers: int = 1,
        batch: int = PIPE_BATCH,
    ) -> None:
        """Start ``readers`` processes for ``path`` (``claimed`` format, target dialect),
        each sending batches of ``batch`` records."""
        import hub

        root = str(Path(hub.__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        base = [sys.executable, "-m", "hub.importing.pipe", str(path), claimed or "", dialect_name]
        parts = max(1, readers)
        self._batch = batch
        self._channels: list[_Channel] = []
        try:
            for part in range(parts):
                self._channels.append(_Channel([*base, str(part), str(parts), str(batch)], env))
        except BaseException:
            self.close()
            raise
        #: Bytes of the file read so far.
        self.position = 0

    def __enter__(self) -> PipedReader:
        """Return the reader."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the readers (if still running) and release the pipes."""
        self.close()

    def items(self) -> Iterator[Item]:
        """Yield the records in file order; raise :class:`FormatError` where the file broke."""
        number = 0
        while True:
            channel = self._channels[number % len(self._channels)]
            kind, first, payload = channel.message()
            if kind == "batch":
                self.position = max(self.position, int(first))
                number += 1
                for item in payload:
                    yield Prepared(*item) if item.__class__ is tuple else pickle.loads(item)
                if len(payload) == self._batch:
                    continue
                # A short batch is where the file ended or broke: that reader says which.
                kind, first, payload = channel.message()
            if kind == "broken":
                raise FormatError(str(payload))
            return

    def close(self) -> None:
        """Stop every reader process and close the pipes."""
        for channel in self._channels:
            channel.close()


def _main(argv: list[str]) -> int:
    """Reader entry point: ``python -m hub.importing.pipe PATH CLAIMED DIALECT [PART PARTS N]``."""
    path, claimed, dialect_name, *share = argv
    part, parts, size = (int(n) for n in share) if share else (0, 1, PIPE_BATCH)
    out = sys.stdout.buffer
    try:
        _child(path, claimed or None, dialect_name, out, part, parts, size)
    except (BrokenPipeError, KeyboardInterrupt):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
