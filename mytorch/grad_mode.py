"""``no_grad()``: whether operations build a graph (given code, used by the engine).

Re-exported by ``mytorch.autograd_engine`` and ``mytorch`` (``from mytorch
import no_grad``).
"""
import functools
import inspect
import sys

# Read by Function.apply for every operation: a module global, not a call.
_grad_enabled = True


class no_grad:
    """Context manager (and decorator) that stops operations from building a graph.

    Inside ``with no_grad():`` every result is a constant (``requires_grad``
    False), as in ``torch.no_grad``: use it for evaluation and for optimizer
    updates, which must not become part of the next step's graph. As a
    decorator, ``@no_grad()`` and ``@no_grad`` both work; on a generator
    function every step of the generator runs under ``no_grad``.
    """

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if func is None:
            return self
        if not callable(func):
            raise TypeError(f"no_grad() takes no arguments (or a function, as a decorator), got {func!r}")
        return self(func)  # used as @no_grad, without parentheses

    def __enter__(self):
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = False
        return self

    def __exit__(self, *exc_info):
        global _grad_enabled
        _grad_enabled = self._previous
        return False

    def __call__(self, func):
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def generator_wrapper(*args, **kwargs):
                return (yield from _no_grad_steps(func(*args, **kwargs)))
            return generator_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with no_grad():
                return func(*args, **kwargs)
        return wrapper


def _no_grad_steps(generator):
    """Run ``generator`` step by step, each step under ``no_grad``, the caller's code between steps not."""
    try:
        with no_grad():
            value = next(generator)
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                with no_grad():  # its finally blocks are a step too
                    generator.close()
                raise
            except BaseException:
                with no_grad():
                    value = generator.throw(*sys.exc_info())
            else:
                with no_grad():
                    value = generator.send(sent)
    except StopIteration as stop:  # the generator returned: so does the wrapper
        return stop.value


def is_grad_enabled():
    """True unless we are inside a ``no_grad()`` block."""
    return _grad_enabled
