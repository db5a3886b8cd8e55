"""What the benchmark scripts in scripts/ share, written once.

- :mod:`harness.media`: where the test media lie (``../shared/media`` beside the checkout),
  a clear error when they are absent, generated clips, reading a clip's frames;
- :mod:`harness.machine`: the device and threads in one line, timers (wall and CPU), memory
  of a process, the machine's load;
- :mod:`harness.peak`: the GFLOP/s torch reaches here (bf16 matmul and conv) and one loss
  evaluation timed against it;
- :mod:`harness.measures`: how a result looks (sharpness, content distance, the Magenta
  style embedding) and :mod:`harness.texture`, a style distance without a network;
- :mod:`harness.report`: markdown tables, JSON results and progress lines;
- :mod:`harness.serve`: ``videostyle`` in a child process (the web server on a free port).

Scripts import it as ``harness``: ``python scripts/NAME.py`` puts scripts/ first on the
path, and the tests get it from pytest's ``pythonpath``. Only :mod:`harness.peak` and
:mod:`harness.measures` import torch, so the web and webcam checks start without it.
"""
