"""From parsed arguments to a request (``videostyle.jobs``). The parser names each flag's
destination after its setting, so a command's arguments are its request's values."""

from __future__ import annotations

import argparse

from ..errors import BadOption, S
from ..jobs import DemoRequest, EvalRequest, ImageRequest, LiveRequest, VideoRequest


def image_request(args: argparse.Namespace) -> ImageRequest:
    """``videostyle image``'s request."""
    return ImageRequest.from_values(vars(args))


def video_request(args: argparse.Namespace) -> VideoRequest:
    """``videostyle video``'s request."""
    return VideoRequest.from_values(vars(args))


def live_request(args: argparse.Namespace) -> LiveRequest:
    """``videostyle webcam``'s request."""
    return LiveRequest.from_values(vars(args))


def eval_request(args: argparse.Namespace) -> EvalRequest:
    """``videostyle eval``'s request."""
    return EvalRequest(original=args.original, stylized=args.stylized, gap=args.gap, start=args.start,
                       frames=args.frames, flow=args.flow)


def demo_request(args: argparse.Namespace) -> DemoRequest:
    """``videostyle demo``'s request."""
    return DemoRequest(output_dir=args.output_dir, samples=args.samples, iterations=args.iterations,
                       max_iterations=args.max_iterations, first_iterations=args.first_iterations,
                       device=args.device, force=args.force)


def parse_auth(text: str | None) -> tuple[str, str] | None:
    """``USER:PASSWORD`` -> (user, password); None without one."""
    if text is None:
        return None
    user, sep, password = text.partition(":")
    if not (sep and user and password):
        raise BadOption(S.auth, ": give USER:PASSWORD, both not empty")
    return user, password
