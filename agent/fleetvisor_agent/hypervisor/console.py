"""A VM's serial console as a byte stream (libvirt's virDomainOpenConsole).

The stream is non-blocking and read from libvirt's event loop (events.py
runs it): the readable callback drains what is there into a buffer that
`read` waits on, so no thread sits in a blocking recv that could not be
interrupted when the session closes. End of stream (the VM stopped, QEMU
exited) and stream errors both end the console: `read` returns None.

libvirt allows one console stream per serial port. Another holder (a
`virsh console`, a second agent) makes openConsole fail with
VIR_ERR_OPERATION_FAILED, which is reported as console_busy rather than
taken over: stealing it (VIR_DOMAIN_CONSOLE_FORCE) would cut someone off
without telling them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import libvirt

from .errors import CONSOLE_BUSY, HypervisorError
from .events import ensure_event_loop
from .translate import translate_error

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
WATCHED = libvirt.VIR_STREAM_EVENT_READABLE | libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP
SEND_RETRY_SECONDS = 0.01
SEND_TIMEOUT = 5.0
MAX_BUFFER = 4 * 1024 * 1024  # a reader this far behind loses the oldest bytes, not the agent's memory


class SerialConsole:
    """Bytes from and to one VM's serial port; every method is safe from any thread."""

    def __init__(self, stream: libvirt.virStream, vm_name: str) -> None:
        self._stream = stream
        self._vm_name = vm_name
        self._buffer = bytearray()
        self._ended = False
        self._closed = False
        self._dropped = 0
        self._lock = threading.Condition()
        self._stream.eventAddCallback(WATCHED, self._on_event, None)

    @classmethod
    def open(cls, conn: libvirt.virConnect, domain: libvirt.virDomain) -> SerialConsole:
        """Attach to the domain's first serial console; HypervisorError if it cannot be had."""
        ensure_event_loop()
        name = domain.name()
        stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        try:
            domain.openConsole(None, stream, 0)
        except libvirt.libvirtError as exc:
            _abort(stream)
            if exc.get_error_code() == libvirt.VIR_ERR_OPERATION_FAILED and "console" in str(exc).lower():
                raise HypervisorError(CONSOLE_BUSY, f"VM {name!r}: another console session holds its serial "
                                                    f"port ({exc.get_error_message()})") from exc
            raise translate_error(exc, repr(name)) from exc
        return cls(stream, name)

    def read(self, timeout: float) -> bytes | None:
        """What the port printed since the last read, waiting up to `timeout` for some; None once it ended."""
        with self._lock:
            if not self._buffer and not self._ended:
                self._lock.wait(timeout)
            if self._buffer:
                data = bytes(self._buffer)
                self._buffer.clear()
                return data
            return None if self._ended else b""

    def wait_for_more(self, seconds: float, enough: int) -> None:
        """Let output gather for up to `seconds`, or until `enough` bytes wait or the stream ends."""
        deadline = time.monotonic() + seconds
        with self._lock:
            while len(self._buffer) < enough and not self._ended:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._lock.wait(remaining)

    def write(self, data: bytes) -> None:
        """Type `data` into the port; HypervisorError if the stream has ended or will not take it."""
        deadline = time.monotonic() + SEND_TIMEOUT
        view = memoryview(data)
        while view:
            if self._ended:
                raise HypervisorError("invalid_state", f"VM {self._vm_name!r}: its console has ended.")
            try:
                sent = self._stream.send(bytes(view))
            except libvirt.libvirtError as exc:
                self._end()
                raise translate_error(exc, repr(self._vm_name)) from exc
            if sent == -2:  # the stream's buffer is full: the guest is not reading yet
                if time.monotonic() > deadline:
                    raise HypervisorError("operation_timeout", f"VM {self._vm_name!r}: its console takes no input.",
                                          transient=True)
                time.sleep(SEND_RETRY_SECONDS)
                continue
            view = view[sent:]

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def dropped(self) -> int:
        """Bytes thrown away because nobody read them in time."""
        return self._dropped

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop_watching(self._stream)
        _abort(self._stream)

    def _on_event(self, stream: libvirt.virStream, events: int, _opaque: object) -> None:
        """On libvirt's event-loop thread: drain what is readable; must not block."""
        while True:
            try:
                data = stream.recv(READ_SIZE)
            except libvirt.libvirtError as exc:
                log.info("console stream failed vm=%s error=%s", self._vm_name, exc.get_error_message())
                self._stop_watching(stream)
                return
            if data == -2:
                break
            if not data:  # end of stream: QEMU closed the port (the VM stopped)
                self._stop_watching(stream)
                return
            self._append(bytes(data))
        if events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
            self._stop_watching(stream)

    def _append(self, data: bytes) -> None:
        with self._lock:
            self._buffer.extend(data)
            overflow = len(self._buffer) - MAX_BUFFER
            if overflow > 0:
                del self._buffer[:overflow]
                self._dropped += overflow
            self._lock.notify_all()

    def _stop_watching(self, stream: libvirt.virStream) -> None:
        with contextlib.suppress(libvirt.libvirtError):  # already removed when the stream ended
            stream.eventRemoveCallback()
        self._end()

    def _end(self) -> None:
        with self._lock:
            self._ended = True
            self._lock.notify_all()


def _abort(stream: libvirt.virStream) -> None:
    with contextlib.suppress(libvirt.libvirtError):  # nothing left to abort
        stream.abort()
