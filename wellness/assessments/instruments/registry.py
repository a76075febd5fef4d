"""The process-wide instrument registry, loaded lazily on first use.

Shipped files live in ``data/`` inside this package; a licensed deployment adds folders with
:func:`configure_registry` at start-up. Loading validates every file; a bad file raises
:class:`InstrumentError` and leaves the previous registry in place.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from importlib import resources
from os import PathLike
from pathlib import Path

from .loader import load_files, read_folder
from .model import Instrument, InstrumentError, UnknownInstrument

_lock = threading.Lock()
_instruments: dict[str, Instrument] | None = None
_extra_dirs: tuple[Path, ...] = ()


def _shipped_files() -> list[tuple[str, str]]:
    folder = resources.files(__package__).joinpath("data")
    files = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json") and entry.is_file():
            path = f"{__package__}/data/{entry.name}"
            try:
                files.append((path, entry.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                raise InstrumentError(path, f"cannot read: {exc}") from None
    return files


def _load(extra_dirs: tuple[Path, ...]) -> dict[str, Instrument]:
    files = _shipped_files()
    for folder in extra_dirs:
        files.extend(read_folder(folder))
    return load_files(files)


def configure_registry(extra_dirs: Iterable[str | PathLike[str]] | None = None) -> None:
    """(Re)load the shipped instruments plus every ``*.json`` in ``extra_dirs``.

    Call at application start-up. Raises :class:`InstrumentError` naming the file and the
    problem; on error the registry keeps what it had before.
    """
    global _instruments, _extra_dirs
    dirs = tuple(Path(d) for d in (extra_dirs or ()))
    with _lock:
        loaded = _load(dirs)
        _instruments, _extra_dirs = loaded, dirs


def _registry() -> dict[str, Instrument]:
    global _instruments
    current = _instruments
    if current is None:
        with _lock:
            if _instruments is None:
                _instruments = _load(_extra_dirs)
            current = _instruments
    return current


def get_instrument(code: str) -> Instrument:
    """The instrument with this code; raises :class:`UnknownInstrument` (a ``KeyError``)."""
    try:
        return _registry()[code]
    except (KeyError, TypeError):
        raise UnknownInstrument(code) from None


def list_instruments() -> list[Instrument]:
    """All loaded instruments in display order."""
    return sorted(_registry().values(), key=lambda inst: (inst.display_order, inst.code))
