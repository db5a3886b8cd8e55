"""videostyle: Gatys et al. neural style transfer for images, videos, GIFs and webcams."""

__version__ = "0.1.0"
