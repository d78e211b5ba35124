"""Capturing what a task prints, while still showing it, with secret values masked in both places.

Two ways of capturing, chosen per step:

* **No secrets** (the hot path): ``sys.stdout``/``sys.stderr`` are swapped for a tee that copies what the
  task prints. No thread, no file descriptor work: a few attribute assignments per step.
* **Secrets**: masking must hold for everything that reaches the console or the execution log, not for each
  ``write()`` call. File descriptors 1 and 2 are redirected to a pipe for the step, so output that never
  passes through ``sys.stdout`` — a ``logging`` handler made before the step, a subprocess the task starts, a
  notebook kernel, C code — is read back by one reader thread, masked as a *stream* and only then shown and
  kept. Python-level streams that are not file descriptors 1/2 (pytest's capture, a Jupyter kernel's
  ``OutStream``) get a masking tee too.

Masking a stream: a :class:`StreamMask` holds back the end of what it has seen for as long as that end could
be the start of a secret, so a secret printed in pieces, or split by the pipe into two reads, or spanning
lines, is still replaced whole. Held-back text is released as soon as the next write shows it is not a secret,
or when the step ends.

What was captured goes to a :class:`CapturedOutput`: in memory up to :data:`SPOOL_CHARACTERS`, then spilled
to a private temporary file, so a task printing gigabytes keeps the runner's memory bounded; ``save`` streams
it into the catalog.
"""

from __future__ import annotations

import codecs
import io
import os
import sys
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runnable.errors import RunnableError

if TYPE_CHECKING:
    from runnable.models.run_log import DataCatalog
    from runnable.services.catalog import BaseCatalog

MASK = "********"
# Shorter values are refused: masking "42" would hide every 42 in the output and, by elimination, reveal it.
MIN_SECRET_LENGTH = 4
# Captured text kept in memory before it spills to a temporary file.
SPOOL_CHARACTERS = 1 << 20


class Redactor:
    """Replaces every secret value in a text by :data:`MASK` (longest first, so a secret containing another
    is masked whole). Built from the secrets' values, or a name -> value mapping for clearer errors."""

    def __init__(self, secrets: Iterable[str] | Mapping[str, str]) -> None:
        if not secrets:  # the hot path: a step without secrets
            self.secrets: list[str] = []
            return
        named = list(secrets.items()) if isinstance(secrets, Mapping) else [("", value) for value in secrets]
        for name, value in named:
            if value and len(value) < MIN_SECRET_LENGTH:
                label = f"secret {name!r}" if name else "a secret"
                raise RunnableError(
                    f"{label} is {len(value)} character(s) long: runnable masks secrets in all output and "
                    f"refuses values shorter than {MIN_SECRET_LENGTH} characters",
                    hint="use a longer secret; a value this short would be masked everywhere it appears by chance",
                )
        self.secrets = sorted({value for _, value in named if value}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def stream(self) -> StreamMask:
        return StreamMask(self)


class StreamMask:
    """Masks a text stream fed in arbitrary pieces: ``feed`` returns what is safe to show now, ``finish`` the
    rest. Not thread-safe: one per source (callers hold a lock)."""

    def __init__(self, redact: Redactor) -> None:
        self.redact = redact
        self.pending = ""

    def feed(self, text: str) -> str:
        text = self.pending + text if self.pending else text
        secrets = self.redact.secrets
        # Decided on the raw text: an end that may still grow into a secret waits, and so does a whole (shorter)
        # secret the cut would split, since it may be the start of a longer one.
        cut = len(text) - _held_back(text, secrets)
        moved = True
        while moved:
            moved = False
            for secret in secrets:
                start = text.find(secret, max(0, cut - len(secret) + 1))
                if start != -1 and start < cut < start + len(secret):
                    cut, moved = start, True
        self.pending = text[cut:]
        return self.redact(text[:cut])

    def finish(self) -> str:
        rest, self.pending = self.pending, ""
        return rest


def _held_back(text: str, secrets: list[str]) -> int:
    """Length of the longest end of ``text`` that is the start (not the whole) of some secret."""
    longest = 0
    for secret in secrets:
        # only ends longer than the longest found so far, and shorter than the secret, are of interest
        index = text.find(secret[0], max(0, len(text) - len(secret) + 1), len(text) - longest)
        while index != -1:
            if secret.startswith(text[index:]):
                longest = len(text) - index
                break
            index = text.find(secret[0], index + 1, len(text) - longest)
    return longest


class CapturedOutput:
    """What a step printed: text in memory, spilled to a private temporary file past ``spool`` characters.

    ``getvalue`` reads it all back (small outputs); ``save`` stores it in the catalog without holding it whole.
    The temporary file is removed by ``close``, or when the object is garbage collected, or at exit. Not
    thread-safe by itself: :func:`capture_output` serialises the writers it sets up.
    """

    def __init__(self, spool: int = SPOOL_CHARACTERS) -> None:
        self._memory: io.StringIO | None = io.StringIO()
        self._file: IO[str] | None = None
        self._path: Path | None = None
        self._spool = spool
        self._size = 0
        # Why output stopped being kept (e.g. the disk is full); the execution log ends with it.
        self._lost = ""
        self._noted = False
        # Called before reading so text held back by stream masks is in (set while capturing).
        self._drain: Any = None

    def write(self, text: str) -> int:
        if not text:
            return 0
        self._size += len(text)
        if self._lost:
            return len(text)
        try:
            if self._memory is not None:
                self._memory.write(text)
                if self._memory.tell() > self._spool:
                    self._spill()
            else:
                assert self._file is not None
                self._file.write(text)
        except OSError as error:  # disk full, temp folder gone: the task goes on, the log says what is missing
            self._lost = f"cannot write {error.filename or self._path or tempfile.gettempdir()}: {error.strerror}"
        return len(text)

    def _spill(self) -> None:
        try:
            handle, name = tempfile.mkstemp(prefix="runnable-out-", suffix=".log")  # 0600: private to this user
        except OSError as error:
            error.filename = error.filename or tempfile.gettempdir()
            raise
        self._path = Path(name)
        self._file = open(handle, "w", encoding="utf-8", errors="replace", newline="")
        weakref.finalize(self, _remove, self._file, name)
        assert self._memory is not None
        text, self._memory = self._memory.getvalue(), None
        self._file.write(text)

    def __len__(self) -> int:
        self._sync()
        return self._size

    def __bool__(self) -> bool:
        return len(self) > 0

    def tail(self, characters: int = 4096) -> str:
        """The last ``characters`` written: enough to check whether a message is already there."""
        self._sync()
        if self._memory is not None:
            return self._memory.getvalue()[-characters:]
        assert self._file is not None and self._path is not None
        _flush_quietly(self._file)
        with open(self._path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 4 * characters))
            return handle.read().decode("utf-8", errors="replace")[-characters:]

    def getvalue(self) -> str:
        """Everything captured, as one string (for small outputs; use ``save`` for the catalog)."""
        self._sync()
        if self._memory is not None:
            text = self._memory.getvalue()
        else:
            assert self._file is not None and self._path is not None
            _flush_quietly(self._file)
            text = self._path.read_text(encoding="utf-8", errors="replace")
        return text + self._loss_note()

    def save(self, catalog: BaseCatalog, run_id: str, name: str) -> DataCatalog:
        """Store what was captured as catalog item ``name``, streamed from the spill file when there is one."""
        self._sync()
        note, self._noted = self._loss_note(), True
        if self._memory is not None:
            return catalog.put_bytes(run_id, name, (self._memory.getvalue() + note).encode())
        assert self._file is not None and self._path is not None
        try:
            self._file.write(note)  # on a full disk this may not fit: the log then just ends early
        except OSError:
            pass
        _flush_quietly(self._file)
        path = self._path
        return catalog.put_file(run_id, name, path)

    def _loss_note(self) -> str:
        if not self._lost or self._noted:
            return ""
        return f"\n[runnable: the rest of the output was not kept: {self._lost}]\n"

    def close(self) -> None:
        """Forget what was captured (the temporary file is removed)."""
        if self._file is not None and self._path is not None:
            _remove(self._file, str(self._path))
        self._memory, self._file, self._path = io.StringIO(), None, None
        self._size = 0

    def _sync(self) -> None:
        if self._drain is not None:
            self._drain()


def _flush_quietly(handle: IO[str]) -> None:
    try:
        handle.flush()
    except OSError:  # a full disk: what could not be written is lost, and the loss is noted
        pass


def _remove(handle: IO[str], name: str) -> None:
    try:
        handle.close()
    except OSError:
        pass
    try:
        os.unlink(name)
    except OSError:
        pass


class _Tee(io.TextIOBase):
    """Stands in for ``sys.stdout``/``sys.stderr``: what is written is kept (masked when there are secrets)
    and passed on to the stream it replaced."""

    def __init__(
        self, stream: Any, sink: CapturedOutput, mask: StreamMask | None = None, lock: threading.Lock | None = None
    ) -> None:
        self.stream = stream
        self.sink = sink
        self.mask = mask
        self.lock = lock

    def write(self, text: str) -> int:
        if self.mask is None:
            self.sink.write(text)
            self.stream.write(text)
            return len(text)
        assert self.lock is not None
        with self.lock:
            shown = self.mask.feed(text)
            if shown:
                self.sink.write(shown)
                self.stream.write(shown)
        return len(text)

    def release(self) -> None:
        """Write out what the mask held back (the stream ended, or is being read)."""
        if self.mask is not None and self.lock is not None:
            with self.lock:
                rest = self.mask.finish()
                if rest:
                    self.sink.write(rest)
                    self.stream.write(rest)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8")


@contextmanager
def capture_output(redact: Redactor) -> Iterator[CapturedOutput]:
    """Everything the task prints inside the block, in order, secrets masked (see the module's docstring)."""
    sink = CapturedOutput()
    saved = sys.stdout, sys.stderr
    if not redact.secrets:
        sys.stdout = _Tee(saved[0], sink)  # type: ignore[assignment]
        sys.stderr = _Tee(saved[1], sink)  # type: ignore[assignment]
        try:
            yield sink
        finally:
            sys.stdout, sys.stderr = saved
        return
    lock = threading.Lock()  # one writer at a time into the sink: the reader thread and the task's threads
    _FD_OWNER.acquire()
    try:
        pipe = _FdPipe.open(redact, sink, lock)
    except BaseException:
        _FD_OWNER.release()
        raise
    mask = redact.stream()
    tees: list[_Tee] = []
    for index, stream in enumerate(saved):
        if pipe is not None and _fileno(stream) == index + 1:
            continue  # already lands on the redirected descriptor
        tees.append(_Tee(stream, sink, mask, lock))
        if index == 0:
            sys.stdout = tees[-1]  # type: ignore[assignment]
        else:
            sys.stderr = tees[-1]  # type: ignore[assignment]

    def drain() -> None:
        for stream in saved:
            _flush(stream)
        if pipe is not None:
            pipe.sync()
        for tee in tees[:1]:
            tee.release()

    sink._drain = drain
    try:
        yield sink
    finally:
        try:
            drain()
        finally:
            sink._drain = None
            sys.stdout, sys.stderr = saved
            try:
                if pipe is not None:
                    pipe.close()
            finally:
                _FD_OWNER.release()


# Descriptors 1 and 2 belong to the whole process: steps with secrets running at once in two threads (two runs
# in one process) take turns, so neither restores the other's redirection. Re-entrant: a run started inside
# a task nests its redirection inside the outer one, which then masks both.
_FD_OWNER = threading.RLock()


def _new_owner_lock() -> None:  # a forked child starts with no step of another thread holding its descriptors
    global _FD_OWNER
    _FD_OWNER = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_owner_lock)


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


def _flush(stream: Any) -> None:
    try:
        stream.flush()
    except (OSError, ValueError):
        pass


class _FdPipe:
    """File descriptors 1 and 2 redirected into a pipe for one step; one reader thread masks and passes it on.

    ``sync`` waits until everything written to the pipe so far has been read: it writes a marker the reader
    recognises, which works even while a subprocess the task started still holds the pipe open.
    """

    _MARKER = b"\x00runnable-capture-sync\x00"

    def __init__(
        self,
        read_fd: int,
        write_fd: int,
        saved: tuple[int, int],
        redact: Redactor,
        sink: CapturedOutput,
        lock: threading.Lock,
    ) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.saved = saved
        self.console = os.dup(saved[0])  # the reader's own copy of the real stdout, closed by the reader
        self.mask = redact.stream()
        self.mask_lock = lock  # shared with the Python-level tees: one writer into the sink at a time
        self.sink: CapturedOutput | None = sink
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.synced = threading.Condition()
        self.markers_seen = 0
        self.markers_sent = 0
        self.thread = threading.Thread(target=self._read, name="runnable-capture", daemon=True)
        self.thread.start()

    @classmethod
    def open(cls, redact: Redactor, sink: CapturedOutput, lock: threading.Lock) -> _FdPipe | None:
        """Redirect 1 and 2, or None when the process has no usable descriptors 1 and 2 (then only Python-level
        output is captured)."""
        for stream in (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr):
            if stream is not None:
                _flush(stream)
        try:
            saved = os.dup(1), os.dup(2)
        except OSError:
            return None
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)
        return cls(read_fd, write_fd, saved, redact, sink, lock)

    def _read(self) -> None:
        carry = b""
        marker = self._MARKER
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                self._pass(self.decoder.decode(carry, final=True), finish=True)
                break
            data = carry + chunk
            while True:
                found = data.find(marker)
                if found == -1:
                    break
                self._pass(self.decoder.decode(data[:found]))
                data = data[found + len(marker) :]
                with self.synced:
                    self.markers_seen += 1
                    self.synced.notify_all()
            keep = _marker_prefix(data, marker)
            carry = data[len(data) - keep :] if keep else b""
            self._pass(self.decoder.decode(data[: len(data) - keep]))
        os.close(self.read_fd)
        os.close(self.console)

    def _pass(self, text: str, finish: bool = False) -> None:
        with self.mask_lock:
            shown = self.mask.feed(text) if text else ""
            if finish:
                shown += self.mask.finish()
            self._show(shown)

    def _show(self, text: str) -> None:
        if not text:
            return
        sink = self.sink
        if sink is not None:
            sink.write(text)
        data = text.encode("utf-8", errors="replace")
        while data:
            try:
                written = os.write(self.console, data)
            except OSError:
                return
            data = data[written:]

    def sync(self, timeout: float = 10.0) -> None:
        """Everything written to descriptors 1 and 2 so far is masked, kept and shown (held-back text too)."""
        self.markers_sent += 1
        os.write(self.write_fd, self._MARKER)
        with self.synced:
            self.synced.wait_for(lambda: self.markers_seen >= self.markers_sent, timeout)
        self._pass("", finish=True)  # what the mask held back is released now: the step is being read

    def close(self) -> None:
        """Put descriptors 1 and 2 back. The reader ends when the last writer (a lingering subprocess) closes
        the pipe; what arrives after the step is shown, masked, but no longer kept."""
        with self.mask_lock:
            self.sink = None
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)
        for fd in (*self.saved, self.write_fd):
            os.close(fd)


def _marker_prefix(data: bytes, marker: bytes) -> int:
    """Length of the end of ``data`` that could be the start of a marker split across two reads."""
    start = max(0, len(data) - len(marker) + 1)
    index = data.find(marker[:1], start)
    while index != -1:
        if marker.startswith(data[index:]):
            return len(data) - index
        index = data.find(marker[:1], index + 1)
    return 0


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block only (secrets must not outlive the task)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
