"""The exit codes of ``videostyle`` (listed in the README), and the stop a signal asks for."""

import signal

EXIT_OK = 0
EXIT_FAILURE = 1  # a failure at run time that is not the input's fault (frames kept: rerun to resume)
EXIT_BAD_INPUT = 2  # bad usage, input, option or output
EXIT_INTERRUPTED = 130  # Ctrl-C (as a shell reports SIGINT)


# what a stop (a signal, Ctrl-C) leaves behind, by command: only a video job keeps work to resume
RESUME = "finished frames are kept: run the same command again to resume"
LEFT_BEHIND = {"video": RESUME, "demo": RESUME,
               "image": "no picture was written (a picture is written only once it is finished)"}


def left_behind(command: str | None) -> str:
    """What a stopped ``command`` leaves behind, in words that are true of it."""
    return LEFT_BEHIND.get(command or "", "nothing was written")


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, unwound as Ctrl-C is: a video job keeps its finished frames."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
