"""``snakeyard.idx.read_idx``, as training scripts written for snakeyard 0.1 import it.

The reader lives in :mod:`snakeyard.data.idx` with the other data set formats; this
name stays so that those scripts run unchanged.
"""

from .data.idx import idx_header, read_idx

__all__ = ["idx_header", "read_idx"]
