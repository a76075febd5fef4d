"""The feature packages and a way to find their optional modules.

A feature package contributes, when it has them: ``routes.py`` (a blueprint ``bp``),
``jobs.py`` (``JOBS``, scheduler sweeps), ``demo.py`` (``seed(summary)``, idempotent demo
data) and ``wellness/api/<package>.py`` (JSON endpoints). Listing the packages here keeps
registration explicit; a package that does not exist yet is skipped.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from types import ModuleType

FEATURE_PACKAGES = (
    "main",
    "auth",
    "notify",
    "assessments",
    "risk",
    "booking",
    "vouchers",
    "learning",
    "hotline",
    "reports",
    "messaging",
    "care",
    "feedback",
)


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def feature_modules(template: str) -> Iterator[ModuleType]:
    """Import ``template.format(pkg=...)`` for every feature package that has it."""
    for package in FEATURE_PACKAGES:
        name = template.format(pkg=package)
        if module_exists(name):
            yield importlib.import_module(name)
