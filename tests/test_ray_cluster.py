"""Two machines, simulated: a Ray cluster of two nodes on this machine (``ray.cluster_utils``),
joined with ``ray_address`` like ``--ray-address``, gives the same frames as a local
2-worker run."""

from __future__ import annotations

import numpy as np
import pytest
import ray  # part of the [test] extra: the Ray tests are never skipped
from PIL import Image
from ray.cluster_utils import Cluster
from synthetic import make_clip, stripes

from videostyle.config import ClipConfig, SegmentConfig, StyleConfig, TemporalConfig
from videostyle.video.job import stylize_video

STYLE = StyleConfig(device="cpu", precision="fp32")
FEW = TemporalConfig(iterations=2, first_iterations=4)


def frames_of(folder) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("frame_*.png"))]


@pytest.fixture(scope="module")
def two_nodes():
    """A head and a second node, one CPU each (so each holds one worker), small object stores."""
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 80 * 2**20, "include_dashboard": False})
    cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20)
    cluster.wait_for_nodes()
    yield cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster.shutdown()


def test_a_two_node_cluster_gives_the_frames_of_a_local_run(two_nodes, tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=12, size="64x48")  # two segments and a bridge
    style = [stripes()]
    common = {"style": STYLE, "temporal": FEW, "clip": ClipConfig(size=48)}
    # --ray-address without --workers: one worker per node of a CPU cluster. (Joined first: in
    # Ray 2.60 a process that ran a local runtime cannot then create actors on a cluster it joins;
    # the command line runs one job per process.)
    stylize_video(clip, f"{tmp_path / 'cluster'}/", style,
                  segments=SegmentConfig(address=two_nodes.address, overlap=2), **common)
    assert not ray.is_initialized(), "the driver leaves the cluster when the job ends"
    stylize_video(clip, f"{tmp_path / 'local'}/", style, segments=SegmentConfig(workers=2, overlap=2), **common)
    assert not ray.is_initialized(), "a runtime the job started is shut down at its end"
    local, remote = frames_of(tmp_path / "local"), frames_of(tmp_path / "cluster")
    assert len(local) == len(remote) == 12
    for a, b in zip(local, remote, strict=True):
        assert np.array_equal(a, b)
