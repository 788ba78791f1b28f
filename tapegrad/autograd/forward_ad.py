"""`tapegrad.autograd.forward_ad`: torch's forward-mode AD API (dual tensors), which tapegrad
does not have: its tape is swept in reverse only.  Every entry point raises
NotImplementedError saying so and naming what gives the same Jacobian-vector products by
reverse mode, rather than an AttributeError half-way through a program."""
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
    raise NotImplementedError(_NO_FORWARD_MODE.format("exit_dual_level()"))


def make_dual(tensor, tangent, *, level=None):
    raise NotImplementedError(_NO_FORWARD_MODE.format("make_dual()"))


def unpack_dual(tensor, *, level=None):
    raise NotImplementedError(_NO_FORWARD_MODE.format("unpack_dual()"))


class dual_level:
    """`with dual_level():` raises on entering (torch's context manager of a dual level)."""

    def __enter__(self):
        raise NotImplementedError(_NO_FORWARD_MODE.format("dual_level()"))

    def __exit__(self, *exc):
        return False
