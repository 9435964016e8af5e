"""The caps of a block of cells: the short dark line that is no sheet of metal on its edge.

18650 cells side by side, lying flat, show their end caps as one line across the block, 18 mm
per cell, as dark as a tungsten sheet on its edge (``lines``' short-line rule). Such a line
lies within the block (a BATTERY region), runs along one of its sides and spans most of it;
a sheet lying on a phone's cell or on the cells, shorter than the side it runs along or
across the block, is read as a sheet (docs/xray-prescreen.md, Known limits).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from inspection.xray.shapes import direction_degrees, main_axis, shared_area, turn_degrees
from inspection.xray.signatures import Box, Signature

#: A short line is a block of cells' ends when this share of its box lies within the block,
#: it runs within these degrees of one of the block's sides, and is this share of that side
#: long: caps span the block; a sheet lying on a phone's cell does not (held-out seed
#: 1,001,238: 54 mm along a 115 mm cell).
IN_BLOCK, CAPS_SKEW_DEG, CAPS_SHARE = 0.8, 12.0, 0.7


def caps(box: Box, own: npt.NDArray[np.bool_], length: float, block: Signature) -> bool:
    """Whether a short line is a block of cells' caps: within it, along a side, spanning it."""
    if block.long_side_deg is None or shared_area(box, block.box) < IN_BLOCK * box[2] * box[3]:
        return False
    line = direction_degrees(main_axis(own)[1])
    off_long = turn_degrees(line, block.long_side_deg)
    off_short = 90.0 - off_long
    side = block.size_mm[0] if off_long <= off_short else block.size_mm[1]
    return min(off_long, off_short) <= CAPS_SKEW_DEG and length >= CAPS_SHARE * side
