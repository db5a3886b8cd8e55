"""The work folder that lets an interrupted video job resume where it stopped.

Layout (next to the output, or ``--work-dir``)::

    settings.json        everything that shapes the result; a mismatch is refused
    frame_00001.png      finished stylized frames (what the writer encodes at the end)
    state_00001.npz      float32 (H, W, 3) results of recent frames, and how many frames
                         after the last restart each is: the next frame starts from these,
                         never from the 8-bit PNGs, so a resumed run equals an
                         uninterrupted one bit for bit

A frame counts as finished once its PNG exists; its state is written first, so the
state of the last finished frame is always there.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import BadOutput

SETTINGS_FILE = "settings.json"


def default_work_dir(output: Path) -> Path:
    """``.NAME.videostyle`` beside the output (hidden, so it does not clutter the folder)."""
    return output.parent / f".{output.name.rstrip('/')}.videostyle"


class WorkDir:
    """Finished frames and resume state of one video job."""

    def __init__(self, path: Path, settings: dict[str, Any], *, restart: bool = False) -> None:
        self.path = Path(path)
        self.settings = json.loads(json.dumps(settings))  # tuples -> lists, as read back
        if restart and self.path.exists():
            shutil.rmtree(self.path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadOutput(f"{self.path}: cannot create the work folder ({exc.strerror}); "
                            "choose another with --work-dir") from exc
        self._check_settings()

    def _check_settings(self) -> None:
        file = self.path / SETTINGS_FILE
        if file.exists():
            saved = json.loads(file.read_text())
            changed = sorted(k for k in set(saved) | set(self.settings) if saved.get(k) != self.settings.get(k))
            if changed and self.finished_frames():
                raise BadOutput(f"{self.path}: holds frames made with other settings (changed: "
                                f"{', '.join(changed)}); rerun with the same settings to resume, "
                                "or pass --restart to discard them")
        _atomic_write_bytes(file, json.dumps(self.settings, indent=1, sort_keys=True).encode())

    def frame_path(self, index: int) -> Path:
        return self.path / f"frame_{index + 1:05d}.png"

    def state_path(self, index: int) -> Path:
        return self.path / f"state_{index + 1:05d}.npz"

    def finished_frames(self) -> int:
        """Number of consecutive finished frames from the start."""
        count = 0
        while self.frame_path(count).exists():
            count += 1
        return count

    def save(self, index: int, frame: np.ndarray, state: np.ndarray, *, since_restart: int,
             keep_states: int) -> None:
        """Record frame ``index``: float state first, then the PNG that marks it finished.

        ``since_restart`` is 1 for a frame stylized from scratch, 2 for the next, and so on;
        the states of the last ``keep_states`` frames are kept.
        """
        buffer = self.state_path(index).with_suffix(".npz.partial")
        with open(buffer, "wb") as fh:
            np.savez(fh, image=state.astype(np.float32), since_restart=np.int64(since_restart))
        os.replace(buffer, self.state_path(index))
        ok, png = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if not ok:
            raise BadOutput(f"{self.frame_path(index)}: could not encode the frame")
        _atomic_write_bytes(self.frame_path(index), png.tobytes())
        old = self.state_path(index - keep_states)
        if index - keep_states >= 0 and old.exists():
            old.unlink()

    def load_state(self, index: int) -> tuple[np.ndarray, int] | None:
        """(float result, frames since the last restart) of frame ``index``, or None when
        it was not kept."""
        path = self.state_path(index)
        if not path.exists():
            return None
        with np.load(path) as saved:
            return saved["image"], int(saved["since_restart"])

    def load_frame(self, index: int) -> np.ndarray:
        """A finished frame as (H, W, 3) uint8 RGB."""
        image = cv2.imread(str(self.frame_path(index)), cv2.IMREAD_COLOR)
        if image is None:
            raise BadOutput(f"{self.frame_path(index)}: finished frame missing or damaged; "
                            "rerun with --restart to stylize the clip again")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)
