"""How a clip is split into segments that workers can stylize apart.

A shot (the frames between two scene cuts) needs no temporal link to the shot before, so
cuts split a clip for free. :func:`plan_segments` splits long shots further so that N
workers have work; inside a shot, a segment after the first is handed over from the one
before by a bridge (``chain.stylize_bridge``). Pure: no torch, no Ray.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """Frames ``start`` to ``stop - 1`` of a clip, stylized as one chain.

    ``shot_start``: frame ``start`` begins a shot (the clip's first frame or a scene cut),
    so nothing is handed over from the segment before. Otherwise the first ``overlap``
    frames are handed over by a bridge (:func:`stylize_bridge`) and are the segment's
    *drafts* until then.
    """

    start: int
    stop: int
    shot_start: bool = True
    overlap: int = 0

    def __len__(self) -> int:
        return self.stop - self.start

    @property
    def bridged(self) -> range:
        """Indices whose final frames come from the bridge into this segment."""
        return range(self.start, self.start + (0 if self.shot_start else self.overlap))



def plan_segments(count: int, cuts: Sequence[int], *, workers: int, max_length: int, overlap: int,
                  bridge_cost: int | None = None, shot_start_cost: int = 0, start_cost: int = 0,
                  min_length: int | None = None) -> list[Segment]:
    """Split ``count`` frames into segments: at every scene cut (``cuts`` are the indices
    of the frames that start a new shot), then long shots into pieces of at most
    ``max_length`` frames, and further until every worker has as many segments as the
    others (the longest pieces are split first; no piece gets shorter than ``min_length``).

    A piece that follows another in the same shot starts with a bridge of ``overlap``
    frames, run once the piece before is done and worth ``bridge_cost`` ordinary frames
    of work (default ``overlap``). A shot's first frame costs ``shot_start_cost`` more
    than an ordinary one, a later piece's first frame ``start_cost`` more (all in
    ordinary frames). The pieces of a shot are cut so that each, with its start and the
    bridge after it, is the same work. Pieces are at least ``min_length`` frames (default
    ``2 * overlap + 2``), so a bridge fits in one.
    """
    if count <= 0:
        return []
    shortest = max(1, 2 * overlap + 2 if min_length is None else min_length)
    bounds = [0, *sorted(c for c in set(cuts) if 0 < c < count), count]
    shots = [(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    pieces = [max(1, math.ceil((b - a) / max_length)) for a, b in shots]
    # at least one piece per worker, and a whole number of rounds (18 pieces on 8 workers
    # would leave 6 workers idle for the third round: 24 shorter ones keep all 8 busy)
    while sum(pieces) < workers or sum(pieces) % workers:
        k = max(range(len(shots)), key=lambda i: (shots[i][1] - shots[i][0]) / pieces[i])
        if (shots[k][1] - shots[k][0]) // (pieces[k] + 1) < shortest:
            break
        pieces[k] += 1
    segments: list[Segment] = []
    cost = overlap if bridge_cost is None else bridge_cost
    for (a, b), p in zip(shots, pieces, strict=True):
        # a bridge runs once the piece before it ends: it counts with that piece
        extra = [(shot_start_cost if k == 0 else start_cost) + (cost if k < p - 1 else 0) for k in range(p)]
        segments.extend(_split_shot(a, b, p, overlap, extra, shortest))
    return segments


def _split_shot(start: int, stop: int, pieces: int, overlap: int, extra: list[int],
                shortest: int) -> list[Segment]:
    """``pieces`` segments of frames start..stop-1, each with ``extra[k]`` frames of other work
    (its start, its bridge), cut so that frames plus extra are about equal."""
    n = stop - start
    if pieces <= 1:
        return [Segment(start, stop, shot_start=True)]
    work = n + sum(extra)
    shares = [work * (k + 1) // pieces - work * k // pieces for k in range(pieces)]
    lengths = [max(shortest, share - e) for share, e in zip(shares, extra, strict=True)]
    lengths[-1] = n - sum(lengths[:-1])
    if lengths[-1] < shortest:  # the extras ate the shot: plain equal pieces
        lengths = [n * (k + 1) // pieces - n * k // pieces for k in range(pieces)]
    segments, at = [], start
    for k, length in enumerate(lengths):
        end = stop if k == pieces - 1 else at + length
        segments.append(Segment(at, end, shot_start=k == 0, overlap=0 if k == 0 else min(overlap, end - at - 1)))
        at = end
    return segments
