"""Tables shared by the clustering commands (``ctk cluster`` and ``ctk clusters show``)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from cluster_toolkit.cli._common import console, fmt_number


def print_metrics(metrics: dict[str, Any]) -> None:
    table = Table(title="quality", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    internal = metrics.get("internal", {})
    table.add_row("silhouette (cosine, higher better)", fmt_number(internal.get("silhouette")))
    table.add_row("Davies-Bouldin (lower better)", fmt_number(internal.get("davies_bouldin")))
    table.add_row("Calinski-Harabasz (higher better)", fmt_number(internal.get("calinski_harabasz")))
    external = metrics.get("external")
    if external:
        ref = external.get("reference")
        names = {"nmi": "NMI", "ami": "AMI", "ari": "ARI", "v_measure": "V-measure", "purity": "purity"}
        for key, name in names.items():
            table.add_row(f"{name} vs {ref}", fmt_number(external[key]))
        table.add_row(f"tracks with a {ref} label", str(external["n_labelled"]))
    console.print(table)


def print_clusters(summary, *, limit: int) -> None:
    table = Table(title="clusters")
    for col, justify in (("cluster", "left"), ("size", "right"), ("cohesion", "right"), ("top genres", "left"),
                         ("representative tracks", "left")):  # fmt: skip
        table.add_column(col, justify=justify, overflow="fold")
    for _, row in summary.head(limit).iterrows():
        name = "noise" if row["cluster"] < 0 else f"{row['cluster']}: {row['name']}"
        table.add_row(name, str(row["size"]), fmt_number(row["cohesion"]), ", ".join(row["top_genres"]) or "-",
                      "\n".join(row["medoids"]) or "-")  # fmt: skip
    console.print(table)
    if len(summary) > limit:
        console.print(f"... and {len(summary) - limit} more clusters", highlight=False)
