"""The image registry stands alone: trained encoder families (``moco:<run>``) register themselves into it."""

import subprocess
import sys

from core.data.paths import PROJECT_ROOT

LOOKUP = """
import sys
from core.image.registry import ENCODER_FAMILIES, get_image_encoder
try:
    get_image_encoder("moco:no-such-run")
except KeyError as error:
    print(error)
print(sorted(ENCODER_FAMILIES))
print(sorted(m for m in sys.modules if m.startswith(("core.geossl", "core.train"))))
"""


def look_up_a_moco_name(after: str = "") -> list[str]:
    """Output lines of LOOKUP in a fresh interpreter, after running ``after``: error, families, modules."""
    result = subprocess.run(
        [sys.executable, "-c", after + LOOKUP], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_the_registry_imports_nothing_above_core_image():
    error, families, modules = look_up_a_moco_name()
    assert "unknown image encoder 'moco:no-such-run'" in error
    assert families == "[]" and modules == "[]"


def test_moco_names_resolve_once_the_moco_family_registered_itself():
    error, families, _ = look_up_a_moco_name("import core.geossl.encoder\n")
    assert "no MoCo run folder" in error and families == "['moco:']"


def test_feature_loading_for_training_registers_the_moco_family():
    error, families, _ = look_up_a_moco_name("import core.train.data\n")
    assert "no MoCo run folder" in error and families == "['moco:']"
