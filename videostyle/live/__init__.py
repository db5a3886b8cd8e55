"""The live loop: a camera stylized as fast as it comes.

``camera`` the newest-frame capture thread; ``policy`` the per-frame budget and start
(LiveStylizer, shared with the web page's webcam tab); ``session`` the terminal session
(keys, preview window, recording).
"""
