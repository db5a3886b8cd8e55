"""The exit codes of ``videostyle`` (listed in the README)."""

EXIT_OK = 0
EXIT_FAILURE = 1  # a failure at run time that is not the input's fault (frames kept: rerun to resume)
EXIT_BAD_INPUT = 2  # bad usage, input, option or output
EXIT_INTERRUPTED = 130  # Ctrl-C (as a shell reports SIGINT)
