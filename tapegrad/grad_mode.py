"""Grad mode: `no_grad`, `enable_grad`, `set_grad_enabled`, `inference_mode`,
`is_grad_enabled`, `is_inference_mode_enabled` (thread-local); `set_multithreading_enabled`;
`TRANSFORMS`, the torch.func transforms running on this thread.

The flag lives in `tape.STATE`, next to the tape this thread records into, so an op reads
both from one thread-local object.
"""
import contextlib
import functools
import inspect
import sys
import threading
import warnings

from .tape import STATE, CLOSED


class _Transforms(threading.local):
    depth = 0
    vmaps = 0      # of them, the vmaps (jacfwd and hessian too: torch's are vmaps)
    forwards = 0   # of them, jacfwd's and hessian's (torch's are forward mode)
    # the transformed calls running, outermost first: ("grad", the tensors the function was
    # given) for grad/vjp/jacrev/jacfwd/jvp/hessian, ("vmap", its mapped samples) for vmap;
    # set by func.py and mapping.py around the call (saved and put back in a `finally`)
    levels = ()


# The torch.func transforms running on this thread (`depth`: func.py's grad levels,
# functionalize and mapping.vmap count themselves in, `TRANSFORMS.depth += 1`, and out again in
# a `finally`, by that statement inline: a Ctrl-C at the entry of a call or a context manager's
# __exit__ there skipped it, and the count stayed raised): a Function applied under one must
# have the setup_context form (pyfunc), and `Tensor.requires_grad_` refuses, as torch's
TRANSFORMS = _Transforms()


# .stack: per running torch.func grad-type transform (func.py's _Level), the ids of the leaves
# its results keep no graph to: the ones it differentiates, and those made inside its function
# (a factory's requires_grad=True, `t.requires_grad = True`: Tensor notes them), which torch's
# levels do not track either
LEVELS = threading.local()


def transformed_call(kind, tensors):
    """The levels to set around a transformed call of `kind` given `tensors`: the caller does
    `saved = TRANSFORMS.levels; TRANSFORMS.levels = transformed_call(...)`, then puts saved
    back in a `finally` (inline, as depth: nothing to skip)."""
    return TRANSFORMS.levels + ((kind, tuple(tensors)),)


def is_grad_enabled():
    """Whether operations are recorded for autograd in this thread (as the user set it: in
    jvp's function, off under no_grad while the ops go on recording, user_set)."""
    return STATE.enabled and not STATE.fwd_off


def user_set(mode):
    """Grad mode `mode` as no_grad / enable_grad / set_grad_enabled set it: as _set, but off
    in the function jvp or jacfwd runs (STATE.forward_call) it stops no recording, only
    shows off (STATE.fwd_off): torch's forward-mode AD does not heed grad mode, and tapegrad's
    jvp takes its tangents from what is recorded.  (A tensor made there requires grad where
    torch's does not; internal switches, switched_grad, still stop recording; a write into a
    tensor captured from outside the function is not recorded: inplace._check_inplace.)"""
    st = STATE
    if not mode and st.forward_call and st.enabled:
        st.fwd_off = True
        return
    st.fwd_off = False
    _set(mode)


@contextlib.contextmanager
def _user_switched(mode):
    """switched_grad for the user's switches (the decorators'): user_set's rule, switched back
    in the `finally` (see switched_grad)."""
    st = STATE
    prev, prev_off = st.enabled, st.fwd_off
    user_set(mode)
    try:
        yield
    finally:
        st.fwd_off = prev_off
        st.enabled = prev
        if prev and not st.inference:
            if st.tape is CLOSED:
                st.tape, st.parked = st.parked, CLOSED
        elif st.tape is not CLOSED:
            st.parked, st.tape = st.tape, CLOSED


def _set(mode):
    """Switch grad mode.  Turning it off parks the open tape (ops see `CLOSED` and record
    nothing); turning it back on reopens the parked tape, so a loop with a `no_grad` block
    in each step still records one graph on one tape.  (A leaf changed in place meanwhile
    has its tape cache cleared, so its next use records its new value.)"""
    st = STATE
    if mode == st.enabled:
        return
    # _sync inline: no call between the switch and the parking, where a Ctrl-C would leave
    # the mode switched with the tape open, raised from a `with`'s __enter__ (whose __exit__
    # then never runs: grad mode stayed off for good after a no_grad block was interrupted)
    st.enabled = mode
    if mode and not st.inference:
        if st.tape is CLOSED:
            st.tape, st.parked = st.parked, CLOSED
    elif st.tape is not CLOSED:
        st.parked, st.tape = st.tape, CLOSED


@contextlib.contextmanager
def switched_grad(mode):
    """`with switched_grad(mode):` grad mode `mode` inside, switched back after, also when a
    Ctrl-C lands on the way out: the switch back is _set's body inline in the generator's
    `finally` (a signal is delivered at the entry of a call, before it restores anything), and
    an exit interrupted before it resumed the generator closes it when the manager is dropped,
    which runs that `finally` (a class's __exit__ interrupted at its entry restores nothing: a
    custom Function's forward interrupted left grad mode off for good)."""
    st = STATE
    prev = st.enabled
    _set(mode)
    try:
        yield
    finally:
        st.enabled = prev
        if prev and not st.inference:
            if st.tape is CLOSED:
                st.tape, st.parked = st.parked, CLOSED
        elif st.tape is not CLOSED:
            st.parked, st.tape = st.tape, CLOSED


def call_with_grad(mode, fn, *args):
    """fn(*args) with grad mode `mode`, switched back after: `with switched_grad(mode):`'s
    behaviour (its `finally` inline, for the same Ctrl-C reason) without the generator's
    context manager, ~1 us less per call on the hot paths that switch once per call (a custom
    Function's apply and backward)."""
    st = STATE
    prev = st.enabled
    try:
        _set(mode)
        return fn(*args)
    finally:
        st.enabled = prev
        if prev and not st.inference:
            if st.tape is CLOSED:
                st.tape, st.parked = st.parked, CLOSED
        elif st.tape is not CLOSED:
            st.parked, st.tape = st.tape, CLOSED


def _sync(st):
    """Park the open tape, or reopen the parked one, as grad mode and inference mode say:
    ops record with grad mode on outside inference mode (torch's inference mode records
    nothing even under enable_grad)."""
    if st.enabled and not st.inference:
        if st.tape is CLOSED:
            st.tape, st.parked = st.parked, CLOSED
    elif st.tape is not CLOSED:
        st.parked, st.tape = st.tape, CLOSED


class _GradModeContext:
    """Base: a context manager that is also a decorator (as torch's)."""
    _target = True

    def __enter__(self):
        self._prev, self._prev_off = STATE.enabled, STATE.fwd_off
        user_set(self._target)

    def __exit__(self, *exc):
        _set(self._prev)
        STATE.fwd_off = self._prev_off
        return False

    def __call__(self, fn):
        factory = self._per_call
        if inspect.isclass(fn):   # (its construction runs in the mode, as torch's)
            warnings.warn("Decorating classes is deprecated and will be disabled in future "
                          "versions. You should only decorate functions or methods. To "
                          "preserve the current behavior of class decoration, you can directly "
                          "decorate the `__init__` method and nothing else.", FutureWarning,
                          stacklevel=2)
            cls = fn

            def fn(*args, **kwargs):
                return cls(*args, **kwargs)
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(factory, fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with factory():
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return self.__class__()

    def _per_call(self):
        """The context a decorated function runs in, made per call."""
        return self.clone()


def _wrap_generator(factory, fn):
    """A decorated generator function: the mode applies inside each resumption of the
    generator (send, throw, close), not between them, as torch's decorators."""
    @functools.wraps(fn)
    def generator_context(*args, **kwargs):
        gen = fn(*args, **kwargs)
        try:
            with factory():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with factory():
                        gen.close()
                    raise
                except BaseException:
                    with factory():
                        response = gen.throw(*sys.exc_info())
                else:
                    with factory():
                        response = gen.send(request)
        except StopIteration as e:
            return e.value
    return generator_context


class _NoParamContext(_GradModeContext):
    """A mode that is also a decorator without parentheses (`@no_grad` as `@no_grad()`), as
    torch's: called with a function, the class returns that function decorated."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)

    def __init__(self, orig_func=None):
        pass

    def _per_call(self):   # (a Ctrl-C on the way out cannot skip its switch back)
        return _user_switched(self._target)


class no_grad(_NoParamContext):
    """Context manager and decorator: operations inside are not recorded."""
    _target = False


class enable_grad(_NoParamContext):
    """Context manager and decorator: operations inside are recorded (inside no_grad too)."""
    _target = True


class set_grad_enabled(_GradModeContext):
    """Sets grad mode on construction (like torch) and restores it on exit."""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): argument 'enabled' (position 1) must be bool, "
                            f"not {type(mode).__name__}")
        self._prev, self._prev_off = STATE.enabled, STATE.fwd_off
        self._target = mode
        user_set(mode)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _set(self._prev)
        STATE.fwd_off = self._prev_off
        return False

    def __call__(self, fn):
        _set(self._prev)
        STATE.fwd_off = self._prev_off
        return super().__call__(fn)

    def clone(self):
        return set_grad_enabled(self._target)

    # torch's public attributes and repr (what the REPL shows for `set_grad_enabled(False)`)
    mode = property(lambda self: self._target)
    prev = property(lambda self: self._prev)

    def __str__(self):
        return f"{type(self).__module__}.{type(self).__qualname__}(mode={self._target})"

    __repr__ = __str__

    def _per_call(self):
        return _user_switched(self._target)




def is_inference_mode_enabled():
    """Whether an `inference_mode()` block is active in this thread."""
    return STATE.inference


# The inference_mode(True) blocks open in any thread, and what marks the tensors made in one
# as inference tensors: `INFERENCE_MARKING[0](on)`, set by tensor.py, turned on while any block
# is open (a tensor's construction then checks this thread's mode), off after the last, so
# that outside them making a tensor costs nothing more
_INFERENCE_BLOCKS = [0]
_INFERENCE_LOCK = threading.Lock()
INFERENCE_MARKING = [None]


def _inference_blocks(step):
    with _INFERENCE_LOCK:
        before = _INFERENCE_BLOCKS[0]
        _INFERENCE_BLOCKS[0] = before + step
        if (before == 0) != (before + step == 0) and INFERENCE_MARKING[0] is not None:
            INFERENCE_MARKING[0](before == 0)


class inference_mode(_GradModeContext):
    """Context manager and decorator, as torch's: with mode=True, nothing is recorded (as
    no_grad) and the tensors made inside are inference tensors (`is_inference()`), which
    torch refuses to save for backward or change in place outside inference mode; mode=False
    turns grad mode on, as torch's."""

    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)        # `@inference_mode` without parentheses

    def __init__(self, mode=True):
        self.mode = mode

    def __enter__(self):
        st = STATE
        self._prev, self._prev_inf = st.enabled, st.inference
        if self.mode:
            _inference_blocks(1)
        st.enabled, st.inference = not self.mode, self.mode
        _sync(st)

    def __exit__(self, *exc):
        st = STATE
        st.enabled, st.inference = self._prev, self._prev_inf
        _sync(st)
        if self.mode:
            _inference_blocks(-1)
        return False

    def clone(self):
        return self.__class__(self.mode)


_MULTITHREADING = threading.local()   # .enabled: unset means True (torch's default)


def is_multithreading_enabled():
    """Whether a backward may run on device worker threads (this thread's setting)."""
    return getattr(_MULTITHREADING, "enabled", True)


class set_multithreading_enabled(_GradModeContext):
    """torch's switch of multithreaded backward, set on construction and restored on exit.
    It only concerns accelerator devices: a CPU backward (tapegrad's) runs on the calling
    thread either way, so the setting is kept and reported and changes nothing else.  (As a
    decorator it stays set from the decoration on, as torch's.)"""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_multithreading_enabled(): argument 'enabled' (position 1) "
                            f"must be bool, not {type(mode).__name__}")
        self._prev = is_multithreading_enabled()
        self.mode = mode
        _MULTITHREADING.enabled = mode

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _MULTITHREADING.enabled = self._prev
        return False

    def clone(self):
        return self.__class__(self.mode)


# torch's module path for the public classes (their reprs name it)
for _cls in (no_grad, enable_grad, set_grad_enabled, inference_mode, set_multithreading_enabled):
    _cls.__module__ = "tapegrad.autograd.grad_mode"
del _cls
