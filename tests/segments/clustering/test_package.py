"""clustering/__init__.py: the public names, loaded on first use. No database, no Django."""

import importlib
import pkgutil
import subprocess
import sys
import types
from pathlib import Path

from segments import clustering


def test_every_public_name_is_the_function_or_value_its_module_defines():
    # Every module loaded first: a module named like a public name would now shadow it.
    for module in pkgutil.iter_modules(clustering.__path__):
        importlib.import_module(f"segments.clustering.{module.name}")

    for name in clustering.__all__:
        value = getattr(clustering, name)
        assert not isinstance(value, types.ModuleType), name
        assert getattr(value, "__module__", "segments.clustering").startswith("segments.clustering"), name


def test_the_algorithm_table_loads_without_scikit_learn():
    # segments.models reads it when Django starts; web processes must not pay for scikit-learn.
    code = (
        "import sys; from segments import clustering; clustering.ALGORITHMS; clustering.ClusteringError; "
        "print(sorted(name for name in ('sklearn', 'scipy', 'kneed') if name in sys.modules))"
    )
    root = Path(clustering.__file__).resolve().parents[2]
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout

    assert loaded.strip() == "[]"
