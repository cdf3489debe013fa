"""gallerfs: a local-first photo and video library shown as a FUSE filesystem."""

__version__ = "0.1.0"
