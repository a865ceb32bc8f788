"""Rich tables for export parity and ``inspect``."""

from __future__ import annotations

import json

from rich.table import Table


def parity_table(manifest: dict) -> Table:
    """One row per checked graph: provider, images, max/mean |Δlogit|, top-1 agreement, accuracy."""
    parity = manifest["parity"]
    t = Table(title=f"ONNX Runtime parity ({parity['images']})")
    for col in ("graph", "provider", "max |Δlogit|", "mean |Δlogit|", "top-1 agreement", "accuracy (torch → onnx)"):
        t.add_column(col, justify="right" if col not in ("graph", "provider") else "left")
    rows = [("fp32", p, f) for p, f in parity["fp32"].items()]
    if "int8" in parity:
        rows.append((f"int8 ({parity['int8']['mode']})", parity["int8"]["provider"], parity["int8"]))
    for graph, provider, f in rows:
        acc = f"{f['reference_accuracy']:.2f} → {f['accuracy']:.2f}" if "accuracy" in f else "n/a (no labels)"
        t.add_row(graph, provider, f"{f['max_abs_diff']:.2e}", f"{f['mean_abs_diff']:.2e}",
                  f"{f['top1_agreement'] * 100:.2f}%", acc)
    return t


def _short(value, limit: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def inspect_table(info: dict) -> Table:
    """Key/value table of an ``inspect_path`` result (nested values shown as compact JSON)."""
    t = Table(title=f"{info['kind']}: {info['path']}", show_header=False)
    t.add_column("key", style="bold")
    t.add_column("value", overflow="fold")

    def add(prefix: str, value) -> None:
        if isinstance(value, dict) and value and prefix.count(".") < 1 and prefix not in ("settings",):
            for k, v in value.items():
                add(f"{prefix}.{k}" if prefix else k, v)
        else:
            t.add_row(prefix, _short(value))

    for key, value in info.items():
        if key in ("kind", "path"):
            continue
        add(key, value)
    return t
