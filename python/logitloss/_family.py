"""Loss families: one declaration each.

Note [Loss families]
A loss family (cross-entropy, NLL, BCE-with-logits, ...) is declared once, as
a `LossFamily`: its value function's parameters and docstring (a function
whose body never runs), the docstrings of its gradient and value-and-gradient,
and `prepare`, which validates a call's arguments and returns a `LossCall`
that runs the kernels. Everything else follows from the declaration:

* ``functions()``: ``<name>``, ``<name>_grad`` (``grad_output=None,
  out=None`` appended) and ``<name>_value_and_grad`` (``out=None``), real
  Python functions with the declared signature, generated like dataclasses'
  methods (no per-call ``inspect`` cost), with ``out=`` checked in one place
  (`_outputs.checked_out`);
* ``logitloss.dask``'s lazy trio, from the family's `dask` layout;
* its ``torch.nn``-style loss object (`losses.loss_class`), from
  `loss_object` and `loss_object_options`.

Every declared family is in `FAMILIES`; tests check that each has its Dask
trio and loss object.
"""

from __future__ import annotations

import inspect
import linecache
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from ._options import REDUCTIONS
from ._outputs import checked_out


class LossCall(Protocol):
    """A validated call of a loss, ready to run its kernels."""

    #: The public function's name, for messages.
    func: str
    #: The array the kernels read as the input (for ``out is input``).
    input: np.ndarray
    #: The gradient's shape and dtype (those of the input).
    grad_shape: tuple[int, ...]
    dtype: np.dtype

    def others(self) -> list[tuple[str, Any]]:
        """The other array arguments, by name, that `out` must not overlap."""

    def value(self) -> Any:
        """The loss."""

    def grad(self, grad_output: Any, out: np.ndarray | None) -> np.ndarray:
        """The gradient, into `out` when given (checked already)."""

    def value_and_grad(self, out: np.ndarray | None) -> tuple[Any, np.ndarray]:
        """Both, in one fused pass where the math allows."""


@dataclass(frozen=True)
class LossFamily:
    """The declaration of a loss family (Note [Loss families])."""

    #: Parameters and docstring of the value function; its body never runs.
    signature: Callable[..., Any]
    #: prepare(func, *arguments in the signature's order) -> LossCall.
    prepare: Callable[..., LossCall]
    grad_doc: str
    value_and_grad_doc: str
    #: How logitloss.dask chunks it: "class" (a class axis: cross-entropy
    #: style), "elementwise" (BCE style) or "pair" (two arrays of one shape
    #: with a class axis: the divergences); see logitloss/dask.py.
    dask: str
    #: The torch.nn-style class name and the order of its options.
    loss_object: str | None = None
    loss_object_options: tuple[str, ...] = field(default=())
    #: Source of an input, a target and extra keyword arguments for the
    #: generated examples (logitloss.dask's docstrings).
    example: tuple[str, str, str] = ("[[0.0, 0.0], [1.0, 2.0]]", "[0, 1]", "")
    #: The reductions it takes ('batchmean': the sum over input.shape[0]).
    reductions: tuple[str, ...] = REDUCTIONS
    #: "elementwise" families: the target may broadcast to the input's shape.
    target_broadcasts: bool = False

    @property
    def name(self) -> str:
        return self.signature.__name__.lstrip("_")

    @property
    def parameters(self) -> list[inspect.Parameter]:
        return list(inspect.signature(self.signature).parameters.values())

    def functions(self) -> tuple[Callable[..., Any], Callable[..., np.ndarray],
                                 Callable[..., tuple[Any, np.ndarray]]]:
        """The family's value, gradient and value-and-gradient functions
        (generated once; later calls return the same three)."""
        if self.name in _FUNCTIONS:
            return _FUNCTIONS[self.name]
        FAMILIES[self.name] = self
        grad_output = inspect.Parameter("grad_output", inspect.Parameter.KEYWORD_ONLY,
                                        default=None, annotation="Any")
        out = inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None,
                                annotation="np.ndarray | None")
        value = self._generate(self.name, [], "{call}.value()", self.signature.__doc__, "Any")
        grad = self._generate(self.name + "_grad", [grad_output, out],
                              "_grad({call}, grad_output, out)", self.grad_doc, "np.ndarray")
        both = self._generate(self.name + "_value_and_grad", [out],
                              "_value_and_grad({call}, out)", self.value_and_grad_doc,
                              "tuple[Any, np.ndarray]")
        _FUNCTIONS[self.name] = (value, grad, both)
        return value, grad, both

    def _generate(self, name: str, extra: list[inspect.Parameter], body: str,
                  doc: str | None, returns: str) -> Callable[..., Any]:
        arguments = ", ".join(p.name for p in self.parameters)
        namespace = {**self.signature.__globals__, "_prepare": self.prepare,
                     "_grad": _grad, "_value_and_grad": _value_and_grad}
        return make_function(name, self.parameters + extra,
                             body.format(call=f"_prepare({name!r}, {arguments})"), namespace,
                             doc, self.signature.__module__, returns)


def make_function(name: str, params: list[inspect.Parameter], body: str,
                  namespace: dict[str, Any], doc: str | None, module: str,
                  returns: str) -> Callable[..., Any]:
    """``def name(params): return body``, compiled in `namespace` (whose names
    the body and the annotations use): a plain function with the parameters'
    defaults and annotations, as dataclasses generate their methods."""
    names, star = [], False
    for p in params:
        assert p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY), p
        if p.kind is p.KEYWORD_ONLY and not star:
            names.append("*")
            star = True
        names.append(p.name)
    namespace = dict(namespace)
    source = f"def {name}({', '.join(names)}):\n    return {body}\n"
    # A file name of its own in linecache, as attrs does: inspect.getsource
    # (numpydoc, debuggers, tracebacks) then finds the generated source.
    filename = f"<logitloss generated {module}.{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    fn: Callable[..., Any] = namespace[name]
    fn.__defaults__ = tuple(p.default for p in params
                            if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty)
    fn.__kwdefaults__ = {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}
    fn.__annotations__ = {**{p.name: p.annotation for p in params
                             if p.annotation is not p.empty}, "return": returns}
    fn.__doc__ = doc
    fn.__module__ = module
    fn.__qualname__ = name
    return fn


#: Every declared family, by name, in declaration order.
FAMILIES: dict[str, LossFamily] = {}
_FUNCTIONS: dict[str, tuple[Callable[..., Any], Callable[..., np.ndarray],
                            Callable[..., tuple[Any, np.ndarray]]]] = {}


def _grad(call: LossCall, grad_output: Any, out: Any) -> np.ndarray:
    if out is not None:
        out = checked_out(call.func, out, call.input, call.grad_shape, call.dtype,
                          [*call.others(), ("grad_output", grad_output)])
    return call.grad(grad_output, out)


def _value_and_grad(call: LossCall, out: Any) -> tuple[Any, np.ndarray]:
    if out is not None:
        out = checked_out(call.func, out, call.input, call.grad_shape, call.dtype,
                          call.others())
    return call.value_and_grad(out)
