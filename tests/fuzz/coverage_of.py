"""What the atheris harnesses get coverage feedback from: the functions and methods of the named modules only.

atheris.instrument_all() rewrites the bytecode of every module loaded, numpy's and LiteRT's Python included (the
audio harness spent ~35 s of each run on that); the fuzzer steers by the parsers' branches, so only their modules
(and the harness's own oracles) are instrumented. Imported by the harnesses' main(), which run as scripts.
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any


def instrument(atheris: Any, *modules: ModuleType) -> int:
    """Instruments every function and method defined in `modules`; returns how many."""
    count = 0
    for module in modules:
        for obj in list(vars(module).values()):
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                atheris.instrument_func(obj)
                count += 1
            elif inspect.isclass(obj):
                for member in vars(obj).values():
                    if inspect.isfunction(member):
                        atheris.instrument_func(member)
                        count += 1
    return count
