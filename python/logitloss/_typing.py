"""Type aliases of the public API (annotations only; no runtime behaviour).

Inputs are anything ``np.asarray`` accepts (``ArrayLike``), and DLPack
exporters and PyTorch tensors (``_validation.as_array``). Results are
NumPy floating arrays, or NumPy floating scalars where a reduction (or a 0-d
input) leaves no axes, as in NumPy and SciPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike
#: A NumPy floating scalar (float16/32/64 or bfloat16 result).
FloatScalar = np.floating[Any]
#: An array of the result dtype.
FloatArray = npt.NDArray[np.floating[Any]]
#: A reduction's result: a scalar when every axis is reduced, else an array.
FloatResult = Union[FloatScalar, FloatArray]
#: logsumexp's results for complex input: complex, or real with a sign.
InexactResult = Union[np.inexact[Any], npt.NDArray[np.inexact[Any]]]
#: Python or NumPy scalar input (its results are NumPy scalars).
ScalarLike = Union[float, int, bool, np.integer[Any], np.floating[Any], np.bool_]
#: None (every axis), one axis, or several.
Axis = Union[int, Sequence[int], None]
