"""SQLAlchemy's asyncio engine without the ORM that its package module drags in.

``sqlalchemy.ext.asyncio``'s ``__init__`` imports the asyncio ORM session and so all of
``sqlalchemy.orm``: about 6 MiB for the life of the process, and start-up time, that Bastion (Core
only: an engine, connections, statements) never uses. :func:`install` registers that package
without running its ``__init__``, so its submodules (``.engine``, which Bastion imports) load as
usual; the first time anything asks the package itself for a name (a library's
``from sqlalchemy.ext.asyncio.engine import AsyncSession``), the real ``__init__`` runs then, so nothing
that needs the ORM goes without it. ``bastion.store`` calls :func:`install` before anything else;
when the package was imported already, it does nothing.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from typing import Any

__all__ = ["install"]

_PACKAGE = "sqlalchemy.ext.asyncio"
#: The package's submodules: ``from . import exc`` inside them asks the package for these first.
_SUBMODULES = frozenset({"base", "engine", "exc", "result", "scoping", "session"})


def install() -> None:
    if _PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.loader is None:
        return  # the plain import fails with its own error
    loader = spec.loader
    module = importlib.util.module_from_spec(spec)
    lock = threading.RLock()
    loaded = False

    def __getattr__(name: str) -> Any:  # a module-level __getattr__ (PEP 562)
        nonlocal loaded
        if name in _SUBMODULES and not loaded:
            return importlib.import_module(f"{_PACKAGE}.{name}")
        with lock:
            if not loaded:
                loaded = True
                del module.__dict__["__getattr__"]
                loader.exec_module(module)  # the real __init__: every name, and the ORM
        try:
            return module.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {_PACKAGE!r} has no attribute {name!r}") from None

    module.__dict__["__getattr__"] = __getattr__
    sys.modules[_PACKAGE] = module
    import sqlalchemy.ext

    sqlalchemy.ext.asyncio = module  # as the import system binds a submodule to its package


install()
