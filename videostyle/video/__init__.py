"""File jobs: a clip (video file, GIF, image folder) through the engine into an output.

``chain`` the one frame loop (stylize_segment) and the bridge between segments; ``plan``
how a clip is split into segments; ``report`` what a job tells its caller (progress,
result); ``workdir`` the resumable work folder; ``job`` stylize_video and the local
runner; ``schedule`` the order in which a distributed job's segments and bridges run;
``ray`` the Ray runner (transport only); ``metrics`` the temporal warping error;
``keyframes`` and ``passes`` painted frames carried along the motion and later passes;
``loop`` the seamless loop's closing.
"""
