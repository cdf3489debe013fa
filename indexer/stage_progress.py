"""The one way a later stage of ``gallerfs index`` (``indexer.run.LATER_STAGES``) drives its progress bar:
the bar appears once the stage knows how much there is to do (from ``min_total`` items), and is closed
however the stage ends."""

from __future__ import annotations

from typing import Any, Callable, Protocol


class _Report(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


OnProgress = Callable[[int], None]
OnTotal = Callable[[int], None]


def run_with_progress(progress: Any, label: str, run: Callable[[OnProgress, OnTotal], _Report], *,
                      unit: str = "photo", min_total: int = 1) -> dict[str, Any]:  # fmt: skip
    """``run(on_progress, on_total)``'s report as a dict; ``progress`` is ``indexer.run.Progress``."""
    update: OnProgress = lambda n: None

    def start(total: int) -> None:
        nonlocal update
        if total >= min_total:
            update = progress.start(label, total, unit)

    try:
        report = run(lambda n: update(n), start)
    finally:
        progress.close()
    return report.as_dict()
