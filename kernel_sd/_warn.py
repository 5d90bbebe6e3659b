"""Library warnings that point at the user's line, however deep the library call.

A fixed ``stacklevel`` is right for one call path only: the same warning raised
from :func:`kernel_sd.spectrum` and from :func:`kernel_sd.self_distill` sits at
different depths. :func:`warn` counts the frames inside the ``kernel_sd``
package instead, so the reported file and line are the first caller outside it.
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["warn", "external_stacklevel"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def external_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside ``kernel_sd``, seen from the caller.

    ``warnings.warn(..., stacklevel=external_stacklevel())`` called from inside
    the package attributes the warning to the user's code (level 1 is the
    frame that calls ``warnings.warn``).
    """
    frame = sys._getframe(1)
    level = 1
    while os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        if frame.f_back is None:  # called from the package's own entry point
            break
        frame = frame.f_back
        level += 1
    return level


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the first caller outside ``kernel_sd``."""
    # external_stacklevel() counts from this frame, which is inside the package.
    warnings.warn(message, category, stacklevel=external_stacklevel())
