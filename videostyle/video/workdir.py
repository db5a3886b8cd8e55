"""The work folder that lets an interrupted video job resume where it stopped.

Layout (next to the output, or the ``work_dir`` given)::

    .videostyle-work     marker: names the folder a videostyle work folder
    .videostyle-lock     held (fcntl.flock) by the job using the folder
    settings.json        everything that shapes the result; a mismatch is refused
    frame_00001.png      finished stylized frames (what the writer encodes at the end)
    state_00001.npz      float32 (H, W, 3) results of recent frames, and how many frames
                         after the last restart each is: the next frame starts from these,
                         never from the 8-bit PNGs, so a resumed run equals an
                         uninterrupted one bit for bit
    draft_00001.png      (distributed runs) a segment's own first frames, until the bridge
                         from the segment before replaces them (see ``chain.py``); (keyframe
                         runs) a backward chain's frames, until the output chain meets them
                         (``keyframes.py``); (multi-pass) a pass's frames, until it ends
    passes.json          (multi-pass) which pass the frames are at (``passes.py``)

A frame counts as finished once its PNG exists, in any order (segments finish in any
order); its state is written first, so the state of each chain's last finished frame is
always there, and any unfinished segment can resume from it. Every file is written atomically
(``io.atomic``). The rules that keep the user's files safe:

* A folder that holds files but no marker is not a work folder: it is refused, untouched.
  A path that is a file is refused. A new folder is created with the marker; an empty
  folder is adopted (the marker says the tool did not create it, so it is never removed).
* Cleanup (after success, after a run that finished no frame, and a restart) deletes
  only the tool's own names listed above (and their temporary names), then the folder
  if the tool created it and it is empty.
* One job at a time: the lock is held from opening to closing.
* A last frame or state that cannot be read back (a power cut, a damaged disk) is
  stylized again; a damaged settings file says to restart.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .. import __version__
from ..config import ClipConfig, SegmentConfig, StyleConfig, StyleSchedule, TemporalConfig, setting_name
from ..errors import BadOutput, Part, S, SettingRef
from ..io.atomic import PARTIAL_INFIX, discard, write_atomic
from ..io.lock import JobLock

if TYPE_CHECKING:
    from .chain import SegmentState

SETTINGS_FILE = "settings.json"
PASSES_FILE = "passes.json"
MARKER_FILE = ".videostyle-work"
LOCK_FILE = ".videostyle-lock"
FRAME_FILE = re.compile(r"frame_(\d{5,})\.png")
STATE_FILE = re.compile(r"state_(\d{5,})\.npz")
DRAFT_FILE = re.compile(r"draft_(\d{5,})\.png")
_TEMPORARY = re.compile(rf"\.(settings\.json|passes\.json|\.videostyle-work|frame_\d+\.png|state_\d+\.npz|"
                        rf"draft_\d+\.png){re.escape(PARTIAL_INFIX)}\d+.*")
# what each record entry is, where it is no setting of its own name: text, or the setting it records
_RECORD_NAMES: dict[str, Part] = {
    "source": "the input file", "source_bytes": "the input file", "source_mtime": "the input file",
    "version": "the videostyle version", "styles": S.style, "segments": S.workers,
    "schedule.entries": S.style, "schedule.strengths": S.strength, "keyframes": S.keyframe,
}
# the record's groups of settings, and the dataclass each group holds
_GROUPS = {"style": StyleConfig, "temporal": TemporalConfig, "clip": ClipConfig, "segments": SegmentConfig,
           "schedule": StyleSchedule}


def default_work_dir(output: Path) -> Path:
    """``.NAME.videostyle`` beside the output (hidden, so it does not clutter the folder)."""
    return output.parent / f".{output.name.rstrip('/')}.videostyle"


def is_own_file(name: str) -> bool:
    """Whether a file name in a work folder is one the tool writes (and so may delete)."""
    return (name in (SETTINGS_FILE, PASSES_FILE, MARKER_FILE, LOCK_FILE) or bool(FRAME_FILE.fullmatch(name))
            or bool(STATE_FILE.fullmatch(name)) or bool(DRAFT_FILE.fullmatch(name))
            or bool(_TEMPORARY.fullmatch(name)))


def check_work_dir(path: Path, output: Path) -> None:
    """Refuse, before any work, a work folder that is a file, a folder of other files, or
    the output itself (or inside a folder output)."""
    _refuse_unusable(path)
    work, out = path.resolve(), output.resolve()
    if work == out or out in work.parents:
        raise BadOutput(S.work_dir, f" {path}: is the output {output} (or inside it); give another folder")


def changed_options(saved: dict[str, Any], current: dict[str, Any], prefix: str = "") -> list[Part]:
    """The settings (``S.style_weight``, ``S.size``, ...) whose recorded value differs, each
    once, in order of their names, then the entries that are no setting, named in words."""
    names: set[Part] = set()
    for key in sorted(set(saved) | set(current)):
        before, now = saved.get(key), current.get(key)
        if before == now:
            continue
        field = f"{prefix}{key}"
        if isinstance(before, dict) or isinstance(now, dict):  # a group of settings: name its fields
            names.update(changed_options(before if isinstance(before, dict) else {},
                                         now if isinstance(now, dict) else {}, f"{field}."))
        else:
            names.add(_record_name(field))
    return sorted(names, key=lambda name: (isinstance(name, str), str(name)))  # settings first, then words


def _record_name(field: str) -> Part:
    """What a record entry (``temporal.mode``, ``size``) is: the setting it records, or words."""
    if field in _RECORD_NAMES:
        return _RECORD_NAMES[field]
    group, _, name = field.rpartition(".")
    return SettingRef(setting_name(_GROUPS[group], name) if group in _GROUPS else name)


class WorkDir:
    """Finished frames and resume state of one video job.

    A context manager: entering checks the folder (see the module docstring), takes its
    lock, applies ``restart``, drops a damaged last frame and checks the settings;
    leaving releases the lock, and after a failure that finished no frame removes what
    it made. Call :meth:`remove` after success to delete the job's files.
    """

    def __init__(self, path: Path, settings: dict[str, Any], *, restart: bool = False) -> None:
        self.path = Path(path)
        self.settings = json.loads(json.dumps(settings))  # tuples -> lists, as read back
        self.restart = restart
        self.created = False  # whether the tool created the folder (recorded in the marker)
        self._lock: JobLock | None = None

    # -- opening and closing -----------------------------------------------------------------
    def __enter__(self) -> WorkDir:
        self._claim()
        try:
            self._lock = JobLock(self.path / LOCK_FILE, what=str(self.path),
                                 advice=("wait for it to finish, or give this job its own ", S.work_dir))
            self._lock.acquire()
            self._write_marker()
            if self.restart:
                self._remove_own(keep=(MARKER_FILE, LOCK_FILE))
            self._remove_temporaries()
            self._redo_damaged_last_frame()
            self._check_settings()
        except BaseException:
            if self._lock is not None and self._lock.held and not self.finished():
                self.remove()
            else:
                self._release()
                self._remove_if_created_and_empty()
            raise
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        if self._lock is None or not self._lock.held:
            return
        if exc_type is not None and not self.finished():
            self.remove()  # nothing to resume: leave nothing behind
        else:
            self._release()

    def _claim(self) -> None:
        """Create the folder, or check that an existing one may be used (never touching it otherwise)."""
        _refuse_unusable(self.path)
        if self.path.is_dir():
            marker = self.path / MARKER_FILE
            self.created = _read_marker(marker) if marker.is_file() else False
            return
        try:
            self.path.mkdir()
        except FileExistsError:  # another job created it a moment ago: its lock decides
            return
        except OSError as exc:
            raise BadOutput(f"{self.path}: cannot create the work folder ({exc.strerror}); "
                            "choose another with ", S.work_dir) from exc
        self.created = True

    def _write_marker(self) -> None:
        marker = self.path / MARKER_FILE
        if not marker.is_file():
            text = json.dumps({"videostyle": __version__, "created_folder": self.created,
                               "note": "a videostyle work folder: finished frames of an interrupted job"})
            write_atomic(marker, text.encode() + b"\n")

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def remove(self) -> None:
        """Delete the job's own files (never anything else) and release the folder; the
        folder itself goes too if the tool created it and nothing else is in it."""
        self._remove_own(keep=(LOCK_FILE,))
        self._release()
        self._remove_if_created_and_empty()

    def _remove_if_created_and_empty(self) -> None:
        if self.created and self.path.is_dir() and not any(self.path.iterdir()):
            with contextlib.suppress(OSError):  # something appeared meanwhile: it stays
                self.path.rmdir()

    def _remove_own(self, *, keep: tuple[str, ...]) -> None:
        if not self.path.is_dir():
            return
        for item in self.path.iterdir():
            if item.name not in keep and is_own_file(item.name) and not item.is_dir():
                discard(item)

    def _remove_temporaries(self) -> None:
        """Temporary files of a killed job (no one else can be writing: we hold the lock)."""
        for item in self.path.iterdir():
            if _TEMPORARY.fullmatch(item.name):
                discard(item)

    # -- frames --------------------------------------------------------------------------------
    def frame_path(self, index: int) -> Path:
        return self.path / f"frame_{index + 1:05d}.png"

    def state_path(self, index: int) -> Path:
        return self.path / f"state_{index + 1:05d}.npz"

    def draft_path(self, index: int) -> Path:
        return self.path / f"draft_{index + 1:05d}.png"

    def finished(self) -> set[int]:
        """0-based indices of the finished frames (those whose PNG is here), in any order."""
        if not self.path.is_dir():
            return set()
        return {int(m.group(1)) - 1 for item in self.path.iterdir() if (m := FRAME_FILE.fullmatch(item.name))}

    def drafts(self) -> set[int]:
        """0-based indices of the segments' draft frames (see the module docstring)."""
        if not self.path.is_dir():
            return set()
        return {int(m.group(1)) - 1 for item in self.path.iterdir() if (m := DRAFT_FILE.fullmatch(item.name))}

    def finished_frames(self) -> int:
        """How many frames are finished in a row from the first: where an in-order job resumes."""
        done, count = self.finished(), 0
        while count in done:
            count += 1
        return count

    def save(self, index: int, frame: np.ndarray | None, state: np.ndarray | None, *, since_restart: int = 0,
             keep_states: int = 0, keep_from: int = 0, draft: bool = False) -> None:
        """Record frame ``index``: float state first, then the PNG that marks it finished
        (or, with ``draft``, the segment's draft of it); either may be None.

        ``since_restart`` is 1 for a frame stylized from scratch, 2 for the next, and so on;
        the states of the chain's last ``keep_states`` frames are kept: the one
        ``keep_states`` back is deleted unless it lies before ``keep_from`` (another
        segment's chain, whose last states a resume or a bridge needs); 0 deletes none (a
        chain that goes backwards, or skips, deletes its own with :meth:`discard_state`).
        """
        if state is not None:
            buffer = io.BytesIO()
            np.savez(buffer, image=state.astype(np.float32), since_restart=np.int64(since_restart))
            write_atomic(self.state_path(index), buffer.getvalue())
        if frame is not None:
            path = self.draft_path(index) if draft else self.frame_path(index)
            ok, png = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            if not ok:
                raise BadOutput(f"{path}: could not encode the frame")
            write_atomic(path, png.tobytes())
        if state is not None and keep_states > 0 and index - keep_states >= max(0, keep_from):
            self.state_path(index - keep_states).unlink(missing_ok=True)

    def load_draft(self, index: int) -> np.ndarray | None:
        """A segment's draft of frame ``index`` as (H, W, 3) uint8 RGB, or None."""
        return _decode_png(self.draft_path(index))

    def discard_draft(self, index: int) -> None:
        self.draft_path(index).unlink(missing_ok=True)

    def discard_state(self, index: int) -> None:
        """Delete frame ``index``'s float state (a chain that no longer needs it)."""
        self.state_path(index).unlink(missing_ok=True)

    def promote_draft(self, index: int) -> None:
        """Make the draft of frame ``index`` its finished frame (one atomic rename)."""
        os.replace(self.draft_path(index), self.frame_path(index))

    def read_passes(self) -> dict[str, Any] | None:
        """The multi-pass record (``passes.py``), or None before a second pass began."""
        file = self.path / PASSES_FILE
        if not file.exists():
            return None
        try:
            record = json.loads(file.read_bytes())
            if not isinstance(record, dict) or not isinstance(record.get("pass"), int):
                raise ValueError("not a pass record")
        except (ValueError, OSError) as exc:
            raise BadOutput(f"{file}: damaged ({type(exc).__name__}); rerun with ", S.restart, " to discard "
                            "the finished frames and start over") from exc
        return record

    def write_passes(self, record: dict[str, Any]) -> None:
        write_atomic(self.path / PASSES_FILE, json.dumps(record, sort_keys=True).encode())

    def chain_state(self, index: int, history: int) -> SegmentState | None:
        """The state an uninterrupted chain would hold before frame ``index``: the newest float
        result, and as many before it as ``history`` keeps, back to the last restart; None when
        the newest was not kept (frame ``index`` then starts afresh)."""
        from .chain import SegmentState

        latest = self.load_state(index - 1)
        if latest is None:
            return None
        image, since_restart = latest
        results = [image]
        for back in range(2, min(since_restart, history) + 1):
            older = self.load_state(index - back)
            if older is None:
                break
            results.append(older[0])
        return SegmentState(results=tuple(results), since_restart=since_restart)

    def load_state(self, index: int) -> tuple[np.ndarray, int] | None:
        """(float result, frames since the last restart) of frame ``index``, or None when
        it was not kept (or cannot be read)."""
        path = self.state_path(index)
        if not path.exists():
            return None
        try:
            with np.load(path) as saved:
                image, since_restart = saved["image"], int(saved["since_restart"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None
        width, height = self.settings.get("size", [image.shape[1], image.shape[0]])
        if image.shape != (height, width, 3) or image.dtype != np.float32:
            return None
        return image, since_restart

    def load_frame(self, index: int) -> np.ndarray:
        """A finished frame as (H, W, 3) uint8 RGB."""
        image = _decode_png(self.frame_path(index))
        if image is None:
            raise BadOutput(f"{self.frame_path(index)}: finished frame missing or damaged; "
                            "rerun with ", S.restart, " to stylize the clip again")
        return image

    def _redo_damaged_last_frame(self) -> None:
        """A last finished frame whose PNG or float state cannot be read back is deleted, so
        that it is stylized again (from the state of the frame before it)."""
        while (count := self.finished_frames()) > 0:
            last = count - 1
            state_broken = self.state_path(last).exists() and self.load_state(last) is None
            if not state_broken and _decode_png(self.frame_path(last)) is not None:
                return
            self.frame_path(last).unlink(missing_ok=True)
            self.state_path(last).unlink(missing_ok=True)

    def _check_settings(self) -> None:
        file = self.path / SETTINGS_FILE
        finished = bool(self.finished())
        if file.exists() and finished:
            try:
                saved = json.loads(file.read_bytes())
                if not isinstance(saved, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, OSError) as exc:
                raise BadOutput(f"{file}: damaged ({type(exc).__name__}); rerun with ", S.restart, " to discard "
                                "the finished frames and start over") from exc
            changed = changed_options(saved, self.settings)
            if changed:
                listed = [part for name in changed for part in (", ", name)][1:]
                raise BadOutput(f"{self.path}: holds frames made with other settings (changed: ", *listed,
                                "); rerun with the same settings to resume, or pass ", S.restart, " to discard them")
        write_atomic(file, json.dumps(self.settings, indent=1, sort_keys=True).encode())


def _refuse_unusable(path: Path) -> None:
    """Raise BadOutput for a path that is a file, or a folder that holds files of its own
    and is not a work folder; such a path is never touched."""
    if path.exists() and not path.is_dir():
        raise BadOutput(S.work_dir, f" {path}: is a file, not a folder; give a new or empty folder "
                        "for the finished frames")
    if path.is_dir() and not (path / MARKER_FILE).is_file() and any(path.iterdir()) \
            and not _is_unmarked_work_folder(path):
        raise BadOutput(S.work_dir, f" {path}: holds other files and is not a videostyle work folder "
                        f"(no {MARKER_FILE}); nothing was touched: give a new or empty folder")


def _is_unmarked_work_folder(path: Path) -> bool:
    """A work folder of a version before the marker: only the tool's own names, and its
    settings file (which a folder of someone's frame_*.png dumps would not have)."""
    try:
        names = [item.name for item in path.iterdir()]
        settings = json.loads((path / SETTINGS_FILE).read_bytes())
    except (OSError, ValueError):
        return False
    return (all(is_own_file(name) for name in names) and isinstance(settings, dict)
            and {"version", "styles", "source"} <= set(settings))


def _read_marker(marker: Path) -> bool:
    """Whether the marker says the tool created the folder (unreadable: assume not)."""
    try:
        return bool(json.loads(marker.read_bytes()).get("created_folder", False))
    except (ValueError, OSError, AttributeError):
        return False


def _decode_png(path: Path) -> np.ndarray | None:
    """(H, W, 3) uint8 RGB, or None when the file is missing or cannot be decoded."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
