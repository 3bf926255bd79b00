"""moodlab: an image-mood research lab, after Cho et al. (2019)."""

__version__ = "0.1.0"
