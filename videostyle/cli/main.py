"""``videostyle``'s entry point: parse, run the command, turn errors into one line and an exit code."""

from __future__ import annotations

import signal
import sys
import threading
import warnings
from collections.abc import Callable, Sequence

from ..errors import OutOfMemory, S, VideostyleError, VideostyleWarning, allocation_bytes, is_allocation_failure
from .exits import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, Terminated, left_behind
from .parser import build_parser
from .words import cli_words


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signum)


def _handle_termination() -> dict[int, object]:
    """kill, systemd, docker stop, a closed terminal: one line and the frames kept, like Ctrl-C.
    Returns the handlers it replaced, for :func:`main` to put back."""
    replaced: dict[int, object] = {}
    if threading.current_thread() is not threading.main_thread():
        return replaced
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) in (signal.SIG_DFL, None):
            replaced[number] = signal.signal(number, _terminate)
    return replaced


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``videostyle`` command; returns the exit code.

    Every error ends as one line on stderr: exit code 2 for bad usage, input, options or
    outputs (a busy work folder, a disk full before any frame), 1 for a failure at run time
    that kept the finished frames (a disk full mid-job, lost workers), 130 for Ctrl-C.
    Warnings are one line each.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("always", VideostyleWarning)
        warnings.showwarning = _one_line_warning(warnings.showwarning)
        replaced: dict[int, object] = {}
        command: str | None = None
        try:
            args = build_parser().parse_args(argv)
            command = args.command
            if args.command != "serve":  # the page shuts itself down on SIGTERM
                replaced = _handle_termination()
            _quiet_opencv()
            from .commands import RUNNERS

            return int(RUNNERS[args.command](args))
        except VideostyleError as exc:
            after = f"; {left_behind(command)}" if isinstance(exc, OutOfMemory) else ""
            print(f"videostyle: error: {exc.render(cli_words(command))}{after}", file=sys.stderr)
            return EXIT_FAILURE if exc.exit_code == EXIT_FAILURE else EXIT_BAD_INPUT
        except (MemoryError, RuntimeError) as exc:  # an allocation the engine did not expect to fail
            if not is_allocation_failure(exc):
                raise
            print(f"videostyle: error: {_out_of_memory(exc).render(cli_words(command))}; {left_behind(command)}",
                  file=sys.stderr)
            return EXIT_FAILURE
        except Terminated as stop:
            print(f"videostyle: stopped by {signal.Signals(stop.signum).name}; {left_behind(command)}",
                  file=sys.stderr)
            return 128 + stop.signum
        except KeyboardInterrupt:
            print(f"videostyle: interrupted; {left_behind(command)}", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            for number, handler in replaced.items():
                signal.signal(number, handler)  # type: ignore[arg-type]


def _out_of_memory(exc: BaseException) -> OutOfMemory:
    """A failed allocation anywhere, as one line that says what to do."""
    from ..config import human_bytes

    asked = allocation_bytes(exc)
    size = f" (an allocation of {human_bytes(asked)} failed)" if asked else ""
    return OutOfMemory(f"ran out of memory{size}: use a smaller ", S.size, ", or a ", S.max_memory,
                       " below what this machine has free")


def _quiet_opencv() -> None:
    """OpenCV logs its own warnings about damaged files to stderr; videostyle reports those
    files itself, in one line."""
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None:
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)


def _one_line_warning(fallback: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints videostyle's warnings as ``videostyle: warning: ...``."""
    def show(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
        if issubclass(category, VideostyleWarning):
            from tqdm import tqdm

            tqdm.write(f"videostyle: warning: {message}", file=sys.stderr)
        else:
            fallback(message, category, *args, **kwargs)
    return show
