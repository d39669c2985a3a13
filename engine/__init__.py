"""Korean NWP precipitation post-processor: data IO, model, inference and verification."""

__version__ = "0.1.0"
