"""One writer at a time per warehouse, and a warehouse readable by its owner only.

A run holds an exclusive lock on ``<warehouse>.lock`` (``flock``) for as long as it writes; the
file names the holder (pid, start time, command). The kernel drops the lock when the holder
exits, however it exits, so a lock file left by a dead process is simply taken over. A lock is
re-entrant within one process: the command line takes it before Prefect starts (a second run is
refused at once) and the flow takes it again around its own body (a scheduled run is covered).
"""

from __future__ import annotations

import fcntl
import functools
import inspect
import json
import logging
import os
import sys
import threading
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

PRIVATE_FOLDER = 0o700  # like the payout folders (SPEC §3.2): emails and IBANs live here
PRIVATE_FILE = 0o600

_held: dict[Path, tuple[int, int]] = {}  # lock file -> (fd, depth), for this process
_guard = threading.Lock()
_log = logging.getLogger("partner_ledger")

F = TypeVar("F", bound=Callable[..., Any])


class WarehouseBusy(RuntimeError):
    """Another process is writing the warehouse."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def private_folder(folder: Path) -> None:
    """Create the folder (and missing parents) and make it owner-only."""
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    folder.chmod(PRIVATE_FOLDER)


def private_file(path: Path) -> None:
    if path.exists():
        path.chmod(PRIVATE_FILE)


def _holder(lock_file: Path) -> str:
    try:
        holder = json.loads(lock_file.read_text(encoding="utf-8"))
        return f"pid {holder['pid']} (started {holder['started_at']}: {holder['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def writer_lock(warehouse: Path) -> Iterator[None]:
    """Hold the warehouse's writer lock, or raise WarehouseBusy at once naming the holder."""
    lock_file = lock_path(Path(warehouse)).resolve()
    with _guard:
        if lock_file in _held:
            fd, depth = _held[lock_file]
            _held[lock_file] = (fd, depth + 1)
        else:
            private_folder(lock_file.parent)
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise WarehouseBusy(
                    f"the warehouse {warehouse} is being written by {_holder(lock_file)}; "
                    f"one run at a time: wait for it to finish (lock file {lock_file})"
                ) from None
            previous = os.read(fd, 4096).decode("utf-8", "replace").strip()
            if previous:
                _log.info("taking over the lock of a finished process: %s", previous)
            holder = {
                "pid": os.getpid(),
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:])[:300],
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
            _held[lock_file] = (fd, 1)
    try:
        yield
    finally:
        with _guard:
            fd, depth = _held[lock_file]
            if depth > 1:
                _held[lock_file] = (fd, depth - 1)
            else:
                del _held[lock_file]
                os.ftruncate(fd, 0)  # an empty file: nobody holds it
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def one_writer(fn: F) -> F:
    """Run ``fn`` (which takes a ``warehouse`` argument) holding the warehouse's writer lock, in
    an owner-only folder, and leave the warehouse file owner-only."""
    signature = inspect.signature(fn, eval_str=True)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        warehouse = Path(signature.bind(*args, **kwargs).arguments["warehouse"])
        with writer_lock(warehouse):
            private_folder(warehouse.parent)
            try:
                return fn(*args, **kwargs)
            finally:
                private_file(warehouse)

    # Prefect builds the flow's parameter model from the signature: give it the resolved types
    # (the wrapper's own module does not know the names the annotations use)
    wrapper.__signature__ = signature  # type: ignore[attr-defined]
    wrapper.__annotations__ = typing.get_type_hints(fn)
    return wrapper  # type: ignore[return-value]
