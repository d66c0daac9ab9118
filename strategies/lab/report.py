"""The lab's output: markdown tables and a PNG chart of DB load, latency and hit ratio over time.

The chart needs matplotlib (``pip install 'vermilion[lab]'``); it uses the Agg backend, no
display. Three panels share the time axis: database queries per second, read p99 latency per
second (log scale), and the per-second hit ratio; one line per strategy; the fault windows are
shaded and labelled.
"""

from __future__ import annotations

import math

from .faults import fault_windows
from .workload import percentile

MAIN_COLUMNS = (
    ("strategy", "strategy"),
    ("hit %", "hit_ratio"),
    ("DB queries", "db_queries"),
    ("DB peak/s", "db_peak_per_s"),
    ("DB reads/miss", "db_reads_per_miss"),
    ("read p50 ms", "read_p50_ms"),
    ("read p99 ms", "read_p99_ms"),
    ("write p50 ms", "write_p50_ms"),
    ("write p99 ms", "write_p99_ms"),
    ("stale reads %", "stale_read_pct"),
    ("inconsistent after", "inconsistent_after"),
    ("keys behind DB", "lost_writes_measured"),
    ("unflushed at kill", "unflushed_at_kill"),
    ("lost writes (library)", "lost_writes_reported"),
    ("breaker transitions", "breaker_transitions"),
    ("fell back after ms", "fallback_after_ms"),
    ("errors", "errors"),
)

STAMPEDE_COLUMNS = (
    ("control", "policy"),
    ("DB calls", "db_calls"),
    ("expiries", "expiries"),
    ("DB calls per expiry", "db_calls_per_expiry"),
    ("peak concurrent DB calls", "peak_concurrent_db_calls"),
    ("reads", "reads"),
    ("read p50 ms", "read_p50_ms"),
    ("read p99 ms", "read_p99_ms"),
    ("stale served", "stale_served"),
)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        text = f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def markdown_table(rows: list[dict], columns) -> str:
    head = "| " + " | ".join(title for title, _ in columns) + " |"
    rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"
    lines = [head, rule]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(key)) for _, key in columns) + " |")
    return "\n".join(lines)


def main_rows(results) -> list[dict]:
    return [r.summary() for r in results]


def transitions_text(results) -> str:
    lines = []
    for r in results:
        if r.transitions:
            steps = ", ".join(
                f"{prev}→{cur} @{t:.1f}s" + (f" ({reason.split(' >=')[0]})" if prev == "closed" else "")
                for t, prev, cur, reason in r.transitions
            )
            lines.append(f"- {r.strategy}: {steps}")
    return "\n".join(lines)


def losses_text(results) -> str:
    """One line per write-back run that had a kill: what was at risk, lost, and accounted for."""
    lines = []
    for r in results:
        if r.unflushed_at_kill is None:
            continue
        lost = r.lost_reported or 0
        if r.loss_unaccounted == 0:
            verdict = (f"the other {r.unflushed_at_kill - lost} reached the database (a later write of the key, "
                       "or a flush in flight): exactly the unflushed writes were lost, and the library named each")
        else:
            verdict = f"LOSS CHECK FAILED: {r.loss_unaccounted} writes unaccounted for"
        lines.append(f"- {r.strategy}: {r.unflushed_at_kill} acknowledged writes unflushed when the cache was killed; "
                     f"{lost} reported lost; {verdict}.")
    return "\n".join(lines)


def chart(results, faults, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(9, 8.2), sharex=True, dpi=72)
    duration = max(r.duration for r in results)
    for r in results:
        secs = range(int(duration))
        db = [r.db_per_second.get(s, 0) for s in secs]
        p99 = [percentile(r.seconds[s].read_lat, 99) * 1000 if s in r.seconds and r.seconds[s].read_lat else float("nan")
               for s in secs]
        hit = [100.0 * r.seconds[s].hits / r.seconds[s].lookups if s in r.seconds and r.seconds[s].lookups else float("nan")
               for s in secs]
        xs = [s + 0.5 for s in secs]
        axes[0].plot(xs, db, label=r.strategy, linewidth=1.6)
        axes[1].plot(xs, p99, label=r.strategy, linewidth=1.6)
        axes[2].plot(xs, hit, label=r.strategy, linewidth=1.6)
    for start, end, label in fault_windows(faults):
        end = min(end, duration)
        for ax in axes:
            ax.axvspan(start, end, color="0.85", zorder=0)
        axes[0].text((start + end) / 2, 1.02, label, transform=axes[0].get_xaxis_transform(),
                     ha="center", va="bottom", fontsize=9)
    axes[0].set_ylabel("DB queries / s")
    axes[1].set_ylabel("read p99 (ms)")
    axes[1].set_yscale("log")
    axes[2].set_ylabel("hit ratio (%)")
    axes[2].set_ylim(0, 100)
    axes[2].set_xlabel("seconds")
    axes[2].set_xlim(0, duration)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    axes[0].set_ylim(bottom=0)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(results), fontsize=9, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 0.98))
    fig.savefig(path, dpi=72)
    plt.close(fig)
