"""Rows of figures and the one table they print as."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

OURS = "ours"


@dataclass
class Row:
    """One measure of one client: its samples (one per repetition) and a note."""

    bench: str
    measure: str
    client: str
    unit: str
    samples: list[float]
    note: str = ""
    compare: bool = True  # show the ours/this ratio against the ours row of this measure
    fmt: str = "{:.2f}"

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def show(self, value: float) -> str:
        return self.fmt.format(value)

    @property
    def spread(self) -> str:
        if len(self.samples) < 2:
            return "-"
        return f"{self.show(min(self.samples))}-{self.show(max(self.samples))}"


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def find(self, bench: str, measure: str, client: str) -> Row | None:
        return next((r for r in self.rows if (r.bench, r.measure, r.client)
                     == (bench, measure, client)), None)

    def ratio(self, row: Row) -> str:
        if not row.compare or row.client.startswith(OURS):
            return ""
        ours = self.find(row.bench, row.measure, OURS)
        if ours is None or not row.median:
            return ""
        return f"{ours.median / row.median:.2f}x"

    def render(self) -> str:
        header = ["Bench", "Measure", "Client", "Median", "Spread (min-max)", "n",
                  "Ours/this", "Note"]
        lines = [header]
        for row in sorted(self.rows, key=lambda r: r.bench):
            lines.append([row.bench, f"{row.measure} ({row.unit})", row.client,
                          row.show(row.median), row.spread, str(len(row.samples)),
                          self.ratio(row), row.note])
        widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
        out = []
        for n, line in enumerate(lines):
            cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
            out.append(" | ".join([*cells, line[-1]]).rstrip())
            if n == 0:
                out.append("-+-".join("-" * w for w in widths) + "-+-" + "-" * 4)
        if self.verdicts:
            out += ["", "Targets (ours):", *(f"  {v}" for v in self.verdicts)]
        return "\n".join(out)
