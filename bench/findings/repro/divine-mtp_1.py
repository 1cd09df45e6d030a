"""divine-mtp 0.1.0: `import divine_mtp` fails (NameError: name 'Tuple' is not defined).

Exits 1 when the import fails (the bug), 0 when it succeeds.
"""

import sys

try:
    import divine_mtp  # noqa: F401
except NameError as exc:
    print(f"import divine_mtp: NameError: {exc}")
    sys.exit(1)
print("import divine_mtp: ok")
