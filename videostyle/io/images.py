"""Still images: read any common format as (H, W, 3) uint8 RGB, upright; write atomically."""

from __future__ import annotations

import io
import re
from pathlib import Path

import cv2
import numpy as np

from ..errors import BadInput, BadOption, BadOutput, S
from .atomic import write_atomic
from .outputs import check_output

MIN_SIDE = 2  # pixels; smaller images carry no picture to stylize
# Still formats the two readers (OpenCV, then Pillow) decode. GIF is left out: an animated
# GIF in a folder of frames would silently give only its first frame.
STILL_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".avif",
                  ".jp2", ".ppm", ".pgm", ".pbm", ".pnm", ".pam", ".pfm", ".hdr", ".sr", ".ras", ".tga",
                  ".pcx", ".qoi")
EXIF_ORIENTATION = 0x0112  # the EXIF tag that says how to turn the stored pixels upright
_UPRIGHT = {  # EXIF orientation -> what turns the stored (H, W, C) array upright (as Pillow's exif_transpose)
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def read_image(path: str | Path, *, background: int = 255) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, turned upright.

    Grayscale is expanded to RGB, an alpha channel is composited over the grey level
    ``background`` (255, white, as a page shows a picture; a mask reads a transparent pixel
    as 0, black), 16-bit and float images are scaled to 8 bits, and an EXIF orientation (a
    portrait phone photo is stored sideways) is applied. Raises BadInput naming the file
    otherwise.
    """
    file = Path(path)
    if file.is_dir():
        raise BadInput(f"{file}: is a folder, not an image file")
    if not file.is_file():
        raise BadInput(f"{file}: no such file")
    try:
        data = np.fromfile(file, dtype=np.uint8)
    except OSError as exc:
        raise BadInput(f"{file}: cannot read ({exc.strerror})") from exc
    if data.size == 0:
        raise BadInput(f"{file}: file is empty (0 bytes)")
    _check_pixels(data, file)
    # IMREAD_UNCHANGED keeps alpha and 16 bits but ignores EXIF orientation: applied below
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    except cv2.error as exc:  # e.g. over OpenCV's own pixel limit
        reason = str(exc).strip().splitlines()[-1][:100]
        raise BadInput(f"{file}: not an image videostyle can read ({reason})") from exc
    if image is None:
        image = _read_with_pillow(file)
    else:
        turn = _UPRIGHT.get(_exif_orientation(data))
        image = turn(image) if turn is not None else image
    return _to_rgb8(image, file, background)


def is_picture(path: str | Path) -> bool:
    """Whether ``path`` is a file holding one picture: a still format, or a GIF of a single
    frame (a GIF exported from an image editor is as still as a PNG)."""
    file = Path(path)
    try:
        if not file.is_file():
            return False
    except OSError:
        return False
    if file.suffix.lower() in STILL_SUFFIXES:
        return True
    if file.suffix.lower() != ".gif":
        return False
    from PIL import Image

    try:
        with Image.open(file) as image:
            return getattr(image, "n_frames", 1) == 1
    except (OSError, ValueError, SyntaxError):  # not a GIF Pillow reads: the video reader decides
        return False


def max_pixels() -> int:
    """The largest image read (width x height): Pillow's decompression-bomb limit, ~179
    megapixels; a small file (a solid colour PNG) can claim 40000x40000 and need 4.8 GB."""
    from PIL import Image

    return 2 * int(Image.MAX_IMAGE_PIXELS or 89_478_485)


def _check_pixels(data: np.ndarray, file: Path) -> None:
    """Refuse an image whose header claims more than :func:`max_pixels`, before decoding it."""
    import warnings

    from PIL import Image

    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data.tobytes())) as image:
                width, height = image.size
    except Image.DecompressionBombError as exc:
        claimed = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(claimed.group(1)) / 1e6:.0f} megapixels" if claimed else "too many pixels"
        raw = data[:24].tobytes()
        if raw.startswith(b"\x89PNG\r\n\x1a\n") and raw[12:16] == b"IHDR":
            size = f"{int.from_bytes(raw[16:20], 'big')}x{int.from_bytes(raw[20:24], 'big')} pixels ({size})"
        raise BadInput(f"{file}: image is {size}, over the limit of {limit / 1e6:.0f} megapixels; "
                       "scale it down first") from None
    except Exception:  # a format Pillow does not know: OpenCV's decoder decides
        return
    if width * height > limit:
        raise BadInput(f"{file}: image is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), over "
                       f"the limit of {limit / 1e6:.0f} megapixels; scale it down first")


def _exif_orientation(data: np.ndarray) -> int:
    """The EXIF orientation of an encoded image (1, upright, when it has none)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data.tobytes())) as image:
            value = image.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # any header Pillow cannot parse has no usable orientation
        return 1
    return value if isinstance(value, int) else 1


def _read_with_pillow(file: Path) -> np.ndarray:
    """OpenCV lacks a few formats (e.g. GIF stills, TGA); Pillow tries those."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert("RGBA"))[..., [2, 1, 0, 3]]  # as OpenCV would: BGRA
    except UnidentifiedImageError as exc:
        raise BadInput(f"{file}: not an image videostyle can read (unknown format)") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # e.g. "image file is truncated"
        reason = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise BadInput(f"{file}: not an image videostyle can read (damaged: {reason})") from exc


def _to_rgb8(image: np.ndarray, file: Path, background: int = 255) -> np.ndarray:
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = (np.clip(image.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    channels = image.shape[2]
    if channels == 1:
        rgb = np.repeat(image, 3, axis=2)
    elif channels == 4:
        alpha = image[..., 3:4].astype(np.float32) / 255.0
        composited = image[..., :3].astype(np.float32) * alpha + float(background) * (1 - alpha)
        rgb = cv2.cvtColor((composited + 0.5).astype(np.uint8), cv2.COLOR_BGR2RGB)
    else:
        rgb = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise BadInput(f"{file}: image is {rgb.shape[1]}x{rgb.shape[0]} pixels, too small to stylize")
    return np.ascontiguousarray(rgb)


def fit_size(width: int, height: int, longest: int | None, *, even: bool = False) -> tuple[int, int]:
    """(width, height) scaled so the longest side is ``longest`` (None: unchanged).

    ``even`` rounds both down to even numbers, which H.264 in yuv420p needs.
    """
    if longest is None:
        w, h = width, height
    else:
        if longest < 2:
            raise BadOption(S.size, f" {longest}: must be at least 2 pixels")
        scale = longest / max(width, height)
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
    if even:
        w, h = max(2, w - w % 2), max(2, h - h % 2)
    return w, h


def resize_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an (H, W, C) array to ``width`` x ``height``: area averaging to shrink,
    bicubic to enlarge; returned as is when the size already matches."""
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    shrinking = width * height < frame.shape[0] * frame.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(frame, (width, height), interpolation=interpolation)


def cover_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale an (H, W, C) array, keeping its aspect ratio, until it covers ``width`` x
    ``height``, and keep the centre: no stretching and no bars (the rule for image folders
    of mixed sizes)."""
    h, w = frame.shape[:2]
    scale = max(width / w, height / h)
    scaled_w, scaled_h = max(width, round(w * scale)), max(height, round(h * scale))
    scaled = resize_frame(frame, scaled_w, scaled_h)
    x0, y0 = (scaled_w - width) // 2, (scaled_h - height) // 2
    return np.ascontiguousarray(scaled[y0: y0 + height, x0: x0 + width])


def write_image(path: str | Path, image: np.ndarray, *, force: bool = False) -> Path:
    """Write (H, W, 3) uint8 RGB to PNG/JPEG/… atomically (see :func:`atomic.write_atomic`):
    a full disk raises DiskFull and leaves no partial file."""
    out = check_output(path, force=force, kinds=("image",))
    ok, encoded = cv2.imencode(out.suffix.lower(), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise BadOutput(f"{out}: OpenCV cannot write this image format; use .png or .jpg")
    write_atomic(out, encoded.tobytes())
    return out
