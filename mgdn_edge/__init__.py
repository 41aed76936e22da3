"""mgdn-edge: deploy MGDN image-fusion networks with checked accuracy at the edge."""

from mgdn_edge.core.errors import BackendError, CheckpointError, ImageReadError, InputError, MgdnEdgeError

__version__ = "0.1.0"

__all__ = ["BackendError", "CheckpointError", "ImageReadError", "InputError", "MgdnEdgeError", "__version__"]
