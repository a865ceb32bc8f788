"""Progress on long loops: a rich bar on a terminal, plain lines in CI logs.

Without a TTY a rich bar prints nothing useful (blank lines at best), and CI systems kill jobs that stay
silent for minutes. :func:`progress_bar` therefore returns a :class:`LineProgress` when stderr is not a
terminal: one line per task every ``SHIELDKIT_PROGRESS_SECONDS`` (default 30 s) and when it finishes,
e.g. ``train resnet8: 120/390 (31%) elapsed 0:01:02 ETA 0:02:20 | ep 2/5 loss 1.234 acc 55.1% 1,930 img/s``.
Both speak the subset of rich's API shieldkit uses: ``add_task``, ``update``, use as a context manager.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

DEFAULT_SECONDS = 30.0


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0.0
    fields: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    last_print: float = field(default_factory=time.monotonic)
    start_completed: float = 0.0
    finished: bool = False


class LineProgress:
    """Plain progress lines on ``stream`` (stderr), at most one per task every ``interval`` seconds."""

    def __init__(self, stream: TextIO | None = None, interval: float | None = None) -> None:
        self.stream = stream or sys.stderr
        env = os.environ.get("SHIELDKIT_PROGRESS_SECONDS", "")
        self.interval = interval if interval is not None else (float(env) if env.replace(".", "", 1).isdigit()
                                                               else DEFAULT_SECONDS)
        self.tasks: list[_Task] = []

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **fields) -> int:
        self.tasks.append(_Task(description, total, float(completed), dict(fields), start_completed=float(completed)))
        return len(self.tasks) - 1

    def update(self, task_id: int, *, advance: float = 0, completed: float | None = None,
               description: str | None = None, **fields) -> None:
        task = self.tasks[task_id]
        task.completed = float(completed) if completed is not None else task.completed + advance
        if description is not None:
            task.description = description
        task.fields.update(fields)
        now = time.monotonic()
        done = task.total is not None and task.completed >= task.total
        if (done and not task.finished) or now - task.last_print >= self.interval:
            task.finished = task.finished or done
            task.last_print = now
            print(self.line(task, now), file=self.stream, flush=True)

    def line(self, task: _Task, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = now - task.started
        text = f"{task.description}: {task.completed:.0f}"
        if task.total:
            text += f"/{task.total:.0f} ({100 * task.completed / task.total:.0f}%)"
        text += f" elapsed {_clock(elapsed)}"
        rate_done = task.completed - task.start_completed
        if task.total and rate_done > 0 and task.completed < task.total:
            text += f" ETA {_clock(elapsed / rate_done * (task.total - task.completed))}"
        stats = " ".join(str(v) for v in task.fields.values() if v not in ("", None))
        return text + (f" | {stats}" if stats else "")


def progress_bar(enabled: bool, columns: tuple | None = None, transient: bool = False):
    """A rich progress bar on stderr when it is a terminal, :class:`LineProgress` when it is not (CI logs),
    a disabled bar when ``enabled`` is False."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    if enabled and not sys.stderr.isatty():
        return LineProgress()
    columns = columns or (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[stats]}"))
    return Progress(*columns, console=Console(stderr=True), disable=not enabled, transient=transient)
