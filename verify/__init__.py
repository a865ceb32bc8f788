"""Verification: attack the artefact that ships (KD probe, data-free KD, robustness) and give a release verdict."""

from .datafree import DataFreeConfig, datafree_attack
from .kd import KDProbeConfig, format_probe_table, kd_probe, queries_needed, student_configs, train_baselines
from .oracle import OnnxOracle, Oracle, QueryBudgetExceeded, TorchOracle, as_oracle, oracle_accuracy
from .policy import Policy, Thresholds, load_policy
from .report import REPORT_SCHEMA
from .robustness import RobustnessResult, evaluate, robustness_table
from .run import VerifyResult, verify

__all__ = ["DataFreeConfig", "KDProbeConfig", "OnnxOracle", "Oracle", "Policy", "QueryBudgetExceeded",
           "REPORT_SCHEMA", "RobustnessResult", "Thresholds", "TorchOracle", "VerifyResult", "as_oracle", "datafree_attack",
           "evaluate", "format_probe_table", "kd_probe", "load_policy", "oracle_accuracy", "queries_needed", "robustness_table", "student_configs",
           "train_baselines", "verify"]
