"""griffe extension: a rule decorated with `round_verifier` is documented with its public signature.

[`round_verifier`][specproof.engine.rule.round_verifier] turns a rule `rule(checked)` into a
[`RoundVerifier`][specproof.engine.rule.RoundVerifier], called as `RoundVerifier.__call__`
(`target_probs, draft_probs, draft_tokens, accept_u, final_u, *, check_values=True`). griffe
reads the sources statically and would show the rule's own parameter (and warn about the
documented public ones), so once the package is loaded this extension gives every function so
decorated the parameters of `RoundVerifier.__call__` (without `self`).
"""

from __future__ import annotations

from typing import Any

import griffe

RULE_MODULE = "specproof.engine.rule"
DECORATOR = f"{RULE_MODULE}.round_verifier"
CALL = f"{RULE_MODULE}.RoundVerifier.__call__"


def _functions(obj: griffe.Object | griffe.Alias) -> Any:
    """Every function defined in module `obj` and its submodules (aliases skipped)."""
    for member in obj.members.values():
        if member.is_alias:
            continue
        if member.is_module:
            yield from _functions(member)
        elif member.is_function:
            yield member


class RoundVerifierSignatures(griffe.Extension):
    """Give functions decorated with `round_verifier` the public verify signature."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Rewrite the decorated functions' parameters once package `pkg` is loaded.

        Args:
            pkg: the loaded package.
            loader: the loader (its collection holds the rule module).
            **kwargs: other arguments griffe passes.
        """
        if pkg.path != "specproof":
            return
        call = loader.modules_collection[CALL]
        parameters = [p for p in call.parameters if p.name != "self"]
        for function in _functions(pkg):
            if any(d.callable_path == DECORATOR for d in function.decorators):
                function.parameters = griffe.Parameters(*parameters)
