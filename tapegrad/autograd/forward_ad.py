"""`tapegrad.autograd.forward_ad`: torch's forward-mode AD API (dual tensors), which tapegrad
does not have: its tape is swept in reverse only.  Entering a dual level raises
NotImplementedError saying so and naming what gives the same Jacobian-vector products by
reverse mode, rather than an AttributeError half-way through a program.  No level can
therefore exist, and the other entries do what torch's do outside every level: unpack_dual
of a tensor is the tensor and no tangent (generic code may ask), make_dual and
exit_dual_level raise torch's errors."""
from collections import namedtuple

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual",
           "unpack_dual", "dual_level"]

_NO_FORWARD_MODE = (
    "tapegrad has no forward-mode AD (dual tensors): {} is not supported.  Jacobian-vector "
    "products are available by reverse mode: tapegrad.func.jvp, tapegrad.func.jacfwd, "
    "tapegrad.autograd.functional.jvp")


class UnpackedDualTensor(namedtuple("UnpackedDualTensor", ["primal", "tangent"])):
    """unpack_dual's (primal, tangent), torch's type."""


def enter_dual_level():
    raise NotImplementedError(_NO_FORWARD_MODE.format("enter_dual_level()"))


def exit_dual_level(*, level=None):
    """torch's errors of exiting a level when none was entered (the current level is -1)."""
    if level is not None and level != -1:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that "
                           "was created. This is not supported.")
    raise RuntimeError("Dual level must be a positive number.")


def make_dual(tensor, tangent, *, level=None):
    """torch's errors of making a dual tensor with no level entered: no current level; a
    primal or tangent that is not floating; a level given that does not exist."""
    if level is None or level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    for what, t in (("primal", tensor), ("tangent", tangent)):
        if not t.is_floating_point():
            raise ValueError(f"Expected {what} to be floating point or complex, but got: "
                             f"{t.dtype}")
    raise RuntimeError("Trying to access a forward AD level with an invalid index. This index "
                       "was either not created or is already deleted.")


def unpack_dual(tensor, *, level=None):
    """(tensor, None) outside every level, as torch's: no tensor is dual.  A level given
    (which tapegrad cannot have entered) is refused as entering one is."""
    if level is None or level < 0:
        return UnpackedDualTensor(tensor, None)
    raise NotImplementedError(_NO_FORWARD_MODE.format("unpack_dual(level=...)"))


class dual_level:
    """`with dual_level():` raises on entering (torch's context manager of a dual level)."""

    def __enter__(self):
        raise NotImplementedError(_NO_FORWARD_MODE.format("dual_level()"))

    def __exit__(self, *exc):
        return False
