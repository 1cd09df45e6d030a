"""`specproof.reference` and `specproof.proofs` (with every claim module) import with torch blocked."""

from .support.no_torch import run_without_torch

IMPORT_ALL = """
import specproof.reference, specproof.reference.strategies
import specproof.proofs
from specproof.proofs.registry import default_registry
registry = default_registry()
import specproof.cli.main
specproof.cli.main.build_parser()
assert 'torch' not in [m for m, v in sys.modules.items() if v is not None and m.startswith('torch')]
print(len(registry))
"""


def test_reference_and_proofs_import_without_torch():
    result = run_without_torch(IMPORT_ALL, timeout=300)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 6


def test_the_block_works():
    """Negative control: with torch blocked, importing torch fails."""
    result = run_without_torch("import torch", timeout=60)
    assert result.returncode != 0 and "import of torch halted" in result.stderr
