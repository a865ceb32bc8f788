"""Access to torchattacks (optional dependency ``shieldkit[autoattack]``) with one clear error when absent."""

from __future__ import annotations

from ..errors import InputError


def torchattacks():
    try:
        import torchattacks as ta
    except ImportError:
        raise InputError("AutoAttack and Square come from the optional package torchattacks: "
                         "pip install 'shieldkit[autoattack]'") from None
    return ta
