"""Verification: attacks against a released model (for now the data-driven KD probe)."""

from .kd import KDProbeConfig, format_probe_table, kd_probe, student_configs, train_baselines

__all__ = ["KDProbeConfig", "format_probe_table", "kd_probe", "student_configs", "train_baselines"]
