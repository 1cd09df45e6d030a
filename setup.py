"""Package discovery: every folder below the top-level source folders that holds an `__init__.py`.

The top-level folders install under one import name (`reference/` as `specproof.reference`, ...),
so that no generic top-level name (`engine`) lands in site-packages; their subpackages are found
here, never listed by hand. Everything else is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup

#: The source folders, each installed as `specproof.<folder>`.
SOURCE_FOLDERS = ("reference", "proofs", "engine", "audit", "dsi", "experiments", "cli")

ROOT = Path(__file__).parent
package_dir: dict[str, str] = {}
for folder in SOURCE_FOLDERS:
    if (ROOT / folder / "__init__.py").is_file():
        package_dir[f"specproof.{folder}"] = folder
packages = sorted(
    "specproof." + ".".join(init.parent.relative_to(ROOT).parts)
    for folder in package_dir.values()
    for init in (ROOT / folder).rglob("__init__.py")
    if "__pycache__" not in init.parts
)

setup(package_dir=package_dir, packages=packages)
