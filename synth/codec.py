"""Clip <-> bytes: H.264 MP4 in-process through PyAV (default), JPEG frames, or a system ffmpeg.

Encoders run single-threaded: parallelism comes from rendering many clips at once, and one thread keeps the
bitstream identical from run to run.
"""
from __future__ import annotations

import io
import shutil
from fractions import Fraction
from typing import Callable

import cv2
import numpy as np

from .config import CodecConfig
from .errors import UserError

Encoder = Callable[[np.ndarray, int, CodecConfig], dict[str, bytes]]
ENCODERS: dict[str, Encoder] = {}


def encoder(name: str) -> Callable[[Encoder], Encoder]:
    def wrap(fn: Encoder) -> Encoder:
        ENCODERS[name] = fn
        return fn

    return wrap


def encode(clip: np.ndarray, fps: int, codec: CodecConfig) -> dict[str, bytes]:
    """(T, H, W, 3 or 4) uint8 RGB(X) -> WebDataset members {extension: bytes}: {'mp4': ...} or {'f00.jpg': ...}."""
    if codec.format == "jpg":
        return encode_jpg(clip, codec.jpeg_quality)
    name = "mp4-" + codec.backend
    if name not in ENCODERS:
        raise UserError(f"--codec-backend {codec.backend}: unknown; choose one of pyav, ffmpeg")
    return ENCODERS[name](clip, fps, codec)


def frame_extensions(frames: int) -> list[str]:
    """Member extensions for JPEG frames: f00.jpg .. f15.jpg (padded to the width of frames - 1)."""
    width = max(2, len(str(frames - 1)))
    return [f"f{t:0{width}d}.jpg" for t in range(frames)]


def encode_jpg(clip: np.ndarray, quality: int) -> dict[str, bytes]:
    out = {}
    for ext, frame in zip(frame_extensions(len(clip)), clip):
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGBA2BGR if frame.shape[2] == 4 else cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        out[ext] = buf.tobytes()
    return out


def to_i420(frame: np.ndarray) -> np.ndarray:
    """RGB(X) -> planar YUV 4:2:0 (BT.601 limited range, what decoders assume for untagged video), shape (1.5H, W).

    Done with OpenCV rather than inside the encoder: FFmpeg's swscale path gave run-to-run different bytes here,
    which would break reproducible shards.
    """
    return cv2.cvtColor(frame, cv2.COLOR_RGBA2YUV_I420 if frame.shape[2] == 4 else cv2.COLOR_RGB2YUV_I420)


@encoder("mp4-pyav")
def encode_mp4_pyav(clip: np.ndarray, fps: int, codec: CodecConfig) -> dict[str, bytes]:
    import av

    buf = io.BytesIO()
    # +bitexact keeps library version strings out of the container, so equal frames give equal bytes.
    with av.open(buf, mode="w", format="mp4", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height = clip.shape[2], clip.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        stream.options = {"crf": str(codec.crf), "preset": codec.preset}
        for t, frame in enumerate(clip):
            yuv = av.VideoFrame.from_ndarray(to_i420(frame), format="yuv420p")
            yuv.pts = t
            container.mux(stream.encode(yuv))
        container.mux(stream.encode(None))
    return {"mp4": buf.getvalue()}


def ffmpeg_exe() -> str:
    """The ffmpeg on PATH, else the binary the imageio-ffmpeg package ships, else a UserError."""
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise UserError("--codec-backend ffmpeg needs an ffmpeg executable on PATH; install it or use "
                        "--codec-backend pyav") from None


@encoder("mp4-ffmpeg")
def encode_mp4_ffmpeg(clip: np.ndarray, fps: int, codec: CodecConfig) -> dict[str, bytes]:
    """One ffmpeg process per clip through ffmpeg-python (the `ffmpeg` extra), for encoders the PyAV wheel lacks.

    Slower than PyAV (a process start per clip); fragmented MP4 because the output is a pipe, not a seekable file.
    """
    try:
        import ffmpeg
    except ImportError:
        raise UserError("--codec-backend ffmpeg needs ffmpeg-python: pip install 'pseudomotion[ffmpeg]', or use "
                        "--codec-backend pyav") from None
    h, w = clip.shape[1:3]
    stream = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="yuv420p", s=f"{w}x{h}", r=fps).output(
        "pipe:", format="mp4", vcodec="libx264", pix_fmt="yuv420p", crf=codec.crf, preset=codec.preset, threads=1,
        fflags="+bitexact", movflags="frag_keyframe+empty_moov", loglevel="error")
    raw = b"".join(to_i420(frame).tobytes() for frame in clip)
    try:
        out, _ = stream.run(cmd=ffmpeg_exe(), input=raw, capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as e:
        raise RuntimeError(f"ffmpeg failed: {e.stderr.decode(errors='replace').strip()}") from None
    return {"mp4": out}


def decode_mp4(data: bytes) -> np.ndarray:
    """MP4 bytes -> (T, H, W, 3) uint8 RGB, every frame."""
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def decode_members(members: dict[str, bytes]) -> np.ndarray:
    """Inverse of encode(): a sample's members (extension -> bytes) -> (T, H, W, 3) uint8."""
    if "mp4" in members:
        return decode_mp4(members["mp4"])
    frames = sorted(k for k in members if k.startswith("f") and k.endswith(".jpg"))
    if not frames:
        raise ValueError("sample has neither .mp4 nor .fNN.jpg members")
    return np.stack([cv2.cvtColor(cv2.imdecode(np.frombuffer(members[k], np.uint8), cv2.IMREAD_COLOR),
                                  cv2.COLOR_BGR2RGB) for k in frames])
