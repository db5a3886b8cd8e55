"""The bundled sample media, rendered procedurally: nothing copied, nothing downloaded.

``content.jpg`` is a lakeside village at dusk, ``style.jpg`` a swirling brush-stroke
painting and ``clip.mp4`` a slow pan across the village with a boat crossing, with a
sine-tone audio track so the demo shows sound being kept. Seeds are fixed, so every
render is the same (the checkout's ``samples/`` folder holds one; ``videostyle demo``
renders them itself when it runs from an installed package without that folder).
Re-render the folder with ``python scripts/make_samples.py``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np

from .io.atomic import atomic_path, write_atomic
from .io.ffmpeg import ffmpeg_exe, ffmpeg_path

CONTENT_SIZE = (512, 384)
CLIP_SIZE = (192, 108)
CLIP_FRAMES, CLIP_FPS = 36, 12


def _smooth_noise(rng: np.random.Generator, h: int, w: int, sigma: float) -> np.ndarray:
    """Gaussian-blurred white noise scaled to [0, 1]; (H, W) float32."""
    noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), sigma)
    return (noise - noise.min()) / (np.ptp(noise) + 1e-6)


def render_scene(width: int, height: int, seed: int = 7) -> np.ndarray:
    """A lakeside village: sky, hills, houses, trees, water with a reflection; (H, W, 3) uint8 RGB."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    sky = np.array([70, 120, 200], np.float32) * (1 - y) + np.array([250, 200, 150], np.float32) * y
    image = np.repeat(sky, width, axis=1)
    clouds = _smooth_noise(rng, height, width, width / 40)[..., None]
    image = image * (1 - 0.35 * clouds) + 255 * 0.35 * clouds
    horizon = int(height * 0.62)
    cv2.circle(image, (int(width * 0.78), int(height * 0.22)), width // 18, (255, 235, 170), -1, cv2.LINE_AA)
    xs = np.arange(width)
    for depth, (color, amp, base) in enumerate((((110, 130, 160), 0.10, 0.46), ((70, 110, 80), 0.07, 0.53))):
        ridge = base * height - amp * height * (0.6 * np.sin(xs / width * 5 + depth) + 0.4 * np.sin(xs / width * 13))
        for x in range(width):
            image[int(ridge[x]):horizon, x] = color
    for i in range(9):  # houses along the shore
        x0 = int(width * (0.08 + i * 0.1) + rng.integers(-8, 8))
        w, h = int(width * 0.07), int(height * rng.uniform(0.08, 0.14))
        wall = tuple(int(c) for c in rng.choice([(235, 215, 160), (220, 120, 90), (245, 240, 230), (240, 180, 120)]))
        cv2.rectangle(image, (x0, horizon - h), (x0 + w, horizon), wall, -1)
        roof = np.array([[x0 - 3, horizon - h], [x0 + w + 3, horizon - h], [x0 + w // 2, horizon - h - w // 2]])
        cv2.fillPoly(image, [roof], (150, 50, 40), cv2.LINE_AA)
        for wx in range(x0 + 4, x0 + w - 6, 9):
            cv2.rectangle(image, (wx, horizon - h + 6), (wx + 4, horizon - h + 12), (60, 70, 90), -1)
    for _ in range(14):  # trees
        cx, cy = int(rng.uniform(0, width)), int(horizon - rng.uniform(0, height * 0.05))
        cv2.ellipse(image, (cx, cy), (int(width * 0.025), int(height * 0.06)), 0, 0, 360, (40, 90, 45), -1)
    land = image[:horizon]
    reflection = cv2.GaussianBlur(land[::-1], (0, 0), 2.0)[: height - horizon] * 0.75 + np.array([10, 25, 45])
    ripples = np.sin(np.arange(height - horizon)[:, None] * 0.9 + 3 * _smooth_noise(rng, height - horizon, width, 6))
    image[horizon:] = np.clip(reflection + 12 * ripples[..., None], 0, 255)
    image += rng.normal(0, 3, image.shape).astype(np.float32)  # film grain
    return np.clip(image, 0, 255).astype(np.uint8)


def render_painting(width: int, height: int, seed: int = 11) -> np.ndarray:
    """Thick short strokes following a swirling field, bold palette; (H, W, 3) uint8 RGB."""
    rng = np.random.default_rng(seed)
    palette = np.array([(20, 40, 110), (35, 80, 170), (70, 130, 210), (240, 200, 60), (250, 150, 40),
                        (40, 110, 70), (230, 230, 200)], np.float32)
    canvas = np.full((height, width, 3), (30, 50, 100), np.float32)
    potential = _smooth_noise(rng, height, width, width / 10)
    vortex = np.hypot(*np.mgrid[:height, :width] - np.array([[[height * 0.4]], [[width * 0.35]]]))
    potential = potential + 0.8 * np.sin(vortex / (width / 14)) * 0.5
    gy, gx = np.gradient(potential)  # strokes run along the level lines (the curl)
    hue = _smooth_noise(rng, height, width, width / 16)
    for size in (9, 6, 4):
        for _ in range(int(width * height / (size * size * 2.2))):
            x, y = int(rng.uniform(0, width)), int(rng.uniform(0, height))
            angle = np.arctan2(gx[y, x], -gy[y, x])
            length = size * rng.uniform(1.5, 3.0)
            dx, dy = np.cos(angle) * length, np.sin(angle) * length
            index = int(hue[y, x] * (len(palette) - 1) + rng.normal(0, 0.8)) % len(palette)
            color = np.clip(palette[index] + rng.normal(0, 18, 3), 0, 255)
            cv2.line(canvas, (int(x - dx), int(y - dy)), (int(x + dx), int(y + dy)), color.tolist(),
                     max(1, size // 2), cv2.LINE_AA)
    canvas *= 0.92 + 0.08 * _smooth_noise(rng, height, width, 1.0)[..., None]  # canvas weave
    return np.clip(canvas, 0, 255).astype(np.uint8)


def render_clip_frames(scene: np.ndarray) -> list[np.ndarray]:
    """A pan with a slight zoom across ``scene`` and a boat crossing the water."""
    h, w = scene.shape[:2]
    out_w, out_h = CLIP_SIZE
    frames = []
    for t in range(CLIP_FRAMES):
        s = t / (CLIP_FRAMES - 1)
        crop_w = w * (0.62 - 0.06 * s)
        crop_h = crop_w * out_h / out_w
        x0, y0 = (w - crop_w) * (0.1 + 0.8 * s), h * 0.2
        matrix = np.array([[out_w / crop_w, 0, -x0 * out_w / crop_w], [0, out_h / crop_h, -y0 * out_h / crop_h]])
        frame = cv2.warpAffine(scene, matrix, CLIP_SIZE, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
        bx, by = int(out_w * (0.9 - 0.8 * s)), int(out_h * 0.82)
        cv2.fillPoly(frame, [np.array([[bx - 14, by], [bx + 14, by], [bx + 9, by + 6], [bx - 9, by + 6]])],
                     (90, 50, 30), cv2.LINE_AA)
        cv2.line(frame, (bx, by), (bx, by - 16), (60, 40, 30), 1, cv2.LINE_AA)
        cv2.fillPoly(frame, [np.array([[bx + 1, by - 15], [bx + 1, by - 3], [bx + 11, by - 3]])],
                     (245, 245, 235), cv2.LINE_AA)
        frames.append(frame)
    return frames


def write_jpeg(path: Path, image: np.ndarray, quality: int = 90) -> None:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"{path}: JPEG encoding failed")
    write_atomic(path, data.tobytes())


def write_clip(path: Path, frames: list[np.ndarray]) -> None:
    """H.264 with a sine-tone audio track, through imageio-ffmpeg's ffmpeg."""
    with atomic_path(path) as partial:
        cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{CLIP_SIZE[0]}x{CLIP_SIZE[1]}", "-r", str(CLIP_FPS), "-i", "-",
               "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=22050",
               "-c:v", "libx264", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "48k",
               "-shortest", "-fflags", "+bitexact", ffmpeg_path(partial)]
        subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), check=True)


SAMPLE_NAMES = ("content.jpg", "style.jpg", "clip.mp4")


def write_samples(out: Path) -> list[Path]:
    """Render the three sample files into folder ``out`` (created if needed); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    write_jpeg(out / "content.jpg", render_scene(*CONTENT_SIZE))
    write_jpeg(out / "style.jpg", render_painting(*CONTENT_SIZE))
    write_clip(out / "clip.mp4", render_clip_frames(render_scene(1024, 768)))
    return [out / name for name in SAMPLE_NAMES]
