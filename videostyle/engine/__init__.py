"""The picture engine: VGG19 features, the Gatys losses, the optimizer, and the per-frame
temporal step (optical flow, warp, temporal loss). It takes images, never paths, and
knows nothing of files, jobs or front-ends.

``vgg`` the network; ``losses`` plain loss functions; ``optimize`` the Stylizer;
``image`` one still; ``flow``/``warp`` optical flow and resampling; ``temporal`` frame t
from frame t-1; ``devices`` device and precision, resolved once; ``tensors`` the one
crossing between uint8 frames and tensors; ``color`` --preserve-colors.
"""
