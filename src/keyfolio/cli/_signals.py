"""SIGTERM and SIGINT stop `keyfolio worker` and `keyfolio scheduler` at any moment.

A Python signal handler is not enough for a process whose main thread sleeps in
``Event.wait()`` while other threads work:

- The kernel hands a signal sent to the process to any one of its threads that does not block
  it, and a thread that changes its signal mask takes a pending one, even when the kernel had
  woken the main thread for it. Every thread that starts a thread changes its mask (glibc's
  ``pthread_create`` blocks all signals, then restores them), and a worker's job does that as
  it ends (``asyncio.run`` shuts its executor down on a new thread). When such a thread takes
  SIGTERM, Python only marks the handler as due: the main thread would run it, but it sleeps
  on a lock and never wakes. The worker never stops.
- A handler that sets a :class:`threading.Event` deadlocks when the signal comes while the
  main thread holds that event's lock (entering or leaving ``Event.wait``).
- Until the handler is installed (imports, settings, the log file) the default action kills
  the process.

So :func:`hold_stop_signals` blocks both signals on the main thread before any other thread
exists (the first thing :func:`keyfolio.cli.main.run` does for these commands). Every thread
inherits that mask, so none takes them, and a signal sent meanwhile waits. Then
:func:`stop_on_signals` starts the one thread that takes them, with :func:`signal.sigwait`,
and sets the stop event as any thread would. The signals stay blocked until the process ends,
so a second one while the jobs in progress finish is logged and changes nothing (SIGKILL
stops a worker at once; its job runs again elsewhere). Where there is no ``pthread_sigmask``
(Windows) a plain handler sets the event.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

__all__ = ["STOP_SIGNALS", "hold_stop_signals", "stop_on_signals"]

logger = logging.getLogger(__name__)

STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def hold_stop_signals() -> None:
    """Block SIGINT and SIGTERM on this thread and every thread it starts from now on."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def stop_on_signals(stopping: Callable[[str], None] | None = None) -> threading.Event:
    """An event set by the first SIGTERM or SIGINT (systemd's stop, Ctrl-C), including one
    that came before this call; ``stopping(name)`` is called then, on the signal thread."""
    stop = threading.Event()
    if not hasattr(signal, "sigwait"):  # pragma: no cover - Windows: the old way, no better
        for signum in STOP_SIGNALS:
            signal.signal(signum, lambda number, frame: stop.set())
        return stop
    hold_stop_signals()  # already done by run(); here for any other caller
    taker = threading.Thread(
        target=_take, args=(stop, stopping), name="keyfolio-signals", daemon=True
    )
    taker.start()
    return stop


def _take(stop: threading.Event, stopping: Callable[[str], None] | None) -> None:
    while True:
        _stop(stop, signal.sigwait(STOP_SIGNALS), stopping)


def _stop(stop: threading.Event, number: int, stopping: Callable[[str], None] | None) -> None:
    name = signal.Signals(number).name
    if stop.is_set():
        logger.info("%s: already stopping", name)
        return
    logger.info("%s: stopping", name)
    stop.set()
    if stopping is not None:
        stopping(name)
