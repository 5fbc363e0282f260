"""Render pseudo-motion videos from still images into WebDataset shards (no torch needed)."""

__version__ = "0.1.0"
