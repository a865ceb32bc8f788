"""Typed errors. The library raises these; the CLI maps them to one line on stderr and an exit code.

Exit codes: 0 ok, 1 a verification threshold failed, 2 bad input or could not run, 3 a verification
was inconclusive (every threshold held, but the run could not show that its attacks detect distillation).
"""

from __future__ import annotations


class ShieldkitError(Exception):
    """Base class of every error shieldkit raises on purpose."""

    exit_code = 2


class InputError(ShieldkitError):
    """Bad input from the user: a missing file, a wrong shape, an invalid option."""


class ModelLoadError(InputError):
    """A model file could not be loaded (corrupt, wrong architecture, unsafe pickle...)."""


class DatasetNotFoundError(InputError):
    """A dataset is not where it was expected; the message says which files to put where."""


class UnknownNameError(InputError):
    """A name was looked up in a registry that does not hold it; the message lists valid names."""


class ArtefactError(InputError):
    """An exported artefact directory is incomplete, unreadable or has been changed since export."""


class SignatureError(ArtefactError):
    """An artefact's signature (or its signed verify attestation) does not verify with the key given."""


class QueryBudgetExceeded(ShieldkitError):
    """An attack asked for more oracle queries than its budget allows."""


class DuplicateNameError(ShieldkitError):
    """A name was registered twice in one registry (two plugins, or one imported twice under two names)."""


class TrainingError(ShieldkitError):
    """Training could not go on (e.g. the loss became NaN)."""


class VerificationFailed(ShieldkitError):
    """A verification threshold did not hold."""

    exit_code = 1


class ParityError(VerificationFailed):
    """An exported ONNX graph does not reproduce the torch model within the parity thresholds (exit 1)."""


class VerificationInconclusive(ShieldkitError):
    """Every threshold held, but the run did not show that its probe can detect distillation."""

    exit_code = 3
