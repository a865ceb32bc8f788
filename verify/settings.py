"""``verify``'s settings, declared once: how it probes (:class:`ProbeSettings`) and which files it writes
(:class:`ReportFiles`). How the artefact is loaded and run is :class:`shieldkit.exporters.settings.RuntimeSettings`;
the thresholds are the policy's (:mod:`.policy`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from shieldkit.precision import PRECISIONS
from shieldkit.settings import check_settings, setting

from .budgets import BUDGETS, QUICK_TIME


@dataclass(frozen=True)
class ProbeSettings:
    """What ``verify`` runs against the artefact, and at which budget. None: the policy's (else the default)."""

    budget: str | None = setting(None, f"smoke (seconds: wiring only) | quick (CPU; {QUICK_TIME} on CIFAR-10) | "
                                 "standard | full (GPU)", choices=BUDGETS)
    probes: Sequence[str] | None = setting(None, "what to run against the artefact, comma-separated: kd (the KD "
                                           "panel; the default), datafree, robustness (input attacks)")
    seeds: Sequence[int] | None = setting(None, "comma-separated student seeds, e.g. 0,1,2 (at least 2: one seed "
                                          "bounds nothing)")
    epochs: int | None = setting(None, "epochs of every KD student (overrides the budget's)", minimum=1)
    seats: Sequence[str] | str | None = setting(None, "the seats whose KD gain is gated (default: file,answer, both "
                                                "measured always): answer = the graph as shipped; file = the graph "
                                                "cut below any head, what a device holder reaches. 'answer' alone "
                                                "assumes the files never leave a server")
    query_budget: int | None = setting(None, "max oracle queries (images) over all probes", minimum=1)
    precision: str = setting("auto", "the KD students' training arithmetic: auto (the budget's or the policy's) | "
                             "fp32 | bf16", choices=PRECISIONS)
    progress: bool = setting(True, "show a live progress bar")
    # the library's alone: probe settings replaced outright, and students shared between runs of one process
    kd_config: Any = None
    datafree_config: Any = None
    memo: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class ReportFiles:
    """Where ``verify`` writes what it found (each path checked before any probe runs; None: not written)."""

    report: str | Path | None = setting(None, "write the JSON report here")
    summary: str | Path | None = setting(None, "write a Markdown summary here (and append it to "
                                         "$GITHUB_STEP_SUMMARY when set)")
    junit: str | Path | None = setting(None, "write a JUnit XML report here: one test per check")
    plot: str | Path | None = setting(None, "write a PNG of student accuracy per attacker (needs matplotlib)")
    model_card: str | Path | None = setting(None, "write MODEL_CARD.md here: the model, its accuracy, protection "
                                            "and robustness figures, what was not tested")
