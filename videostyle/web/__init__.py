"""``videostyle serve``: a local web page over the same engine as the CLI.

``jobs`` (the queue, the data directory, cancel and resume) needs nothing beyond the core
install; ``app`` (the page) needs the web extra: ``pip install "videostyle[web]"``.
"""
