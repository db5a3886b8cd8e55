"""The demo: the bundled sample clip stylized into an mp4 and a GIF (``videostyle demo``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import declared
from ..errors import BadInput, BadOutput, S
from .video import VideoRequest

CHECKOUT_SAMPLES = Path(__file__).resolve().parents[2] / "samples"  # absent in an installed package
OUTPUTS = ("demo.mp4", "demo.gif")  # the GIF reuses the mp4's finished frames


@dataclass(frozen=True, kw_only=True)
class DemoRequest:
    """Stylize ``samples``/clip.mp4 with its style.jpg into ``output_dir`` (samples None: the
    checkout's samples/, or the same files rendered on the spot)."""

    output_dir: str | Path = declared("output_dir")
    samples: str | Path | None = declared("samples")
    iterations: int | str | None = declared("iterations", "demo")
    max_iterations: int = declared("max_iterations", "demo")
    first_iterations: int = declared("first_iterations", "demo")
    device: str = declared("device")
    force: bool = declared("force")

    def __post_init__(self) -> None:
        self.video_requests()  # every setting checked now


    def sample_folder(self) -> Path:
        if self.samples is not None:
            return Path(self.samples)
        if (CHECKOUT_SAMPLES / "clip.mp4").is_file():
            return CHECKOUT_SAMPLES
        return Path(self.output_dir) / ".samples"  # rendered by prepare_demo

    def video_requests(self) -> list[VideoRequest]:
        """The demo's two jobs: the mp4, then the GIF from the same finished frames."""
        samples, out = self.sample_folder(), Path(self.output_dir)
        return [VideoRequest(input=samples / "clip.mp4", output=out / name, style=(str(samples / "style.jpg"),),
                             size=declared("size", "demo"), iterations=self.iterations,
                             max_iterations=self.max_iterations, first_iterations=self.first_iterations,
                             device=self.device, force=self.force, work_dir=out / ".work",
                             keep_work=name.endswith("mp4"))
                for name in OUTPUTS]


def prepare_demo(request: DemoRequest) -> list[VideoRequest]:
    """Check the device and the samples (before anything is written), make the output folder
    and, in an installed package, render the samples; returns the jobs to run in order."""
    from ..engine.devices import resolve_compute

    resolve_compute(request.device, declared("precision"))
    samples, out = request.sample_folder(), Path(request.output_dir)
    clip, style = samples / "clip.mp4", samples / "style.jpg"
    rendered = samples == out / ".samples"
    if not rendered and not (clip.is_file() and style.is_file()):
        raise BadInput(f"{samples}: sample clip.mp4/style.jpg not found; pass ", S.samples,
                       " DIR (python scripts/make_samples.py --out DIR makes them)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadOutput(f"{out}: cannot create the output folder ({exc.strerror or exc})") from exc
    if not (clip.is_file() and style.is_file()):
        from ..samples import write_samples

        write_samples(samples)
    return request.video_requests()
