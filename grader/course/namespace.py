"""Loading a folder of course modules (``rnn.py``, ``lstm.py``, ...) in this process.

Course modules import each other by plain name (``from masking import masked_softmax``),
so they are loaded with their folder first on ``sys.path``; afterwards they are moved
to private names in ``sys.modules`` so that two folders (the reference and, under plain
pytest, a submission) can be loaded side by side without one shadowing the other.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from pathlib import Path

_lock = threading.Lock()


class ModuleNamespace:
    """Attribute access to a folder's course modules: ``ns.rnn.rnn_forward``."""

    def __init__(self, directory: Path, names: list[str], alias: str):
        self._directory = Path(directory)
        self._names = list(names)
        self._alias = alias
        self._modules: dict[str, types.ModuleType] | None = None

    def _load(self) -> dict[str, types.ModuleType]:
        if self._modules is None:
            self._modules = load_folder(self._directory, self._names, self._alias)
        return self._modules

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        modules = self._load()
        if name not in modules:
            raise AttributeError(f"no course module {name!r} in {self._directory}")
        return modules[name]


def load_folder(directory: Path, names: list[str], alias: str) -> dict[str, types.ModuleType]:
    """Import every module of ``names`` found in ``directory``; return them by plain name.

    They stay in ``sys.modules`` only as ``{alias}.{name}``.
    """
    directory = Path(directory).resolve()
    with _lock:
        saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
        sys.path.insert(0, str(directory))
        loaded: dict[str, types.ModuleType] = {}
        try:
            for name in names:
                if (directory / f"{name}.py").exists():
                    loaded[name] = importlib.import_module(name)
        finally:
            sys.path.remove(str(directory))
            for name in names:
                module = sys.modules.pop(name, None)
                if module is not None:
                    sys.modules[f"{alias}.{name}"] = module
            sys.modules.update(saved)
            importlib.invalidate_caches()
    return loaded
