"""Verification: attack the artefact that ships (KD probe, data-free KD, robustness) and give a release verdict."""

import sys
import types

from .datafree import DataFreeConfig, datafree_attack
from .evaluation import RobustnessResult, evaluate
from .kd import KDProbeConfig, format_probe_table, kd_probe, queries_needed, student_configs, train_baselines
from .oracle import OnnxOracle, Oracle, QueryBudgetExceeded, TorchOracle, as_oracle, oracle_accuracy
from .policy import Policy, Thresholds, load_policy, with_overrides
from .report import REPORT_SCHEMA
from .results import Check, SeatResult, Verdict, VerificationReport
from .run import VerifyResult, verify

__all__ = ["Check", "DataFreeConfig", "KDProbeConfig", "OnnxOracle", "Oracle", "Policy", "QueryBudgetExceeded",
           "REPORT_SCHEMA", "RobustnessResult", "SeatResult", "Thresholds", "Verdict", "VerificationReport", "TorchOracle", "VerifyResult", "as_oracle", "datafree_attack",
           "evaluate", "format_probe_table", "kd_probe", "load_policy", "oracle_accuracy", "queries_needed", "student_configs",
           "train_baselines", "verify", "with_overrides"]


class _CallableModule(types.ModuleType):
    """``shieldkit.verify`` is this package *and* the call: once imported, a subpackage is an attribute of its
    parent, so ``shieldkit.verify(artefact, data)`` must work on the module itself."""

    def __call__(self, *args, **kwargs) -> VerifyResult:
        return verify(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
