"""The picture engine: VGG19 features, the Gatys losses, the optimizer, and the per-frame
temporal step (optical flow, warp, temporal loss). It takes images, never paths, and
knows nothing of files, jobs or front-ends.

``vgg`` the network and its one layer walk; ``losses`` the loss math as plain functions;
``terms`` the loss as a set of terms; ``gatys`` one pass of them through the network with a
hand-written backward; ``tiles`` the same pass tile by tile; ``objective`` one scale's loss;
``tiling`` tile geometry; ``memory`` the one model of bytes and tile plans; ``targets`` the
style targets; ``optimize`` the Stylizer's passes; ``image`` one still; ``flow``/``warp``
optical flow and resampling; ``temporal`` frame t from frame t-1; ``devices`` device and
precision, resolved once (``calibrate``: precision ``auto`` timed on the CPU); ``tensors``
the one crossing between uint8 frames and tensors; ``color`` colour matching for
``preserve_colors``.
"""
