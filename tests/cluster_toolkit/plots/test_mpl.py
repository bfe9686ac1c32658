import subprocess
import sys
from pathlib import Path

# A notebook has chosen its backend and has a figure open; drawing every kind of ctk picture must leave both
# as they were (no matplotlib.use, no pyplot figures left behind or closed).
SCRIPT = """
import json, sys
from pathlib import Path
import matplotlib
matplotlib.use("svg")
import matplotlib.pyplot as plt
import numpy as np
mine = plt.figure()

from cluster_toolkit.clustering.auto_params import choose_eps, choose_k
from cluster_toolkit.plots.auto_params import plot_k_curve, plot_k_distance
from cluster_toolkit.plots.similarity_heatmap import plot_similarity_heatmap
from cluster_toolkit.plots.umap_map import categorical_coloring, write_map_png
from embeddings.training.metrics_log import plot_loss_curve
import pandas as pd

out = Path(sys.argv[1])
rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(c, 0.05, (20, 4)) for c in (0.0, 1.0, 2.0)])
plot_k_curve(choose_k(X, k_values=range(2, 5)), out / "k.png")
plot_k_distance(choose_eps(X, min_samples=3), out / "eps.png")
plot_similarity_heatmap(X[:4], ["a", "b", "c", "d"], out / "heat.png")
write_map_png(X[:, :2], categorical_coloring(pd.Series(["x", "y", "z"] * 20), title="genre"), out / "map.png")
plot_loss_curve([{"kind": "train", "step": 1, "loss": 1.0}, {"kind": "train", "step": 2, "loss": 0.5}],
                out / "loss.png")
print(json.dumps({"backend": matplotlib.get_backend(), "figures": plt.get_fignums(),
                  "mine": plt.fignum_exists(mine.number)}))
"""


def test_pictures_leave_the_callers_backend_and_figures_alone(tmp_path):
    import json

    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[3], timeout=120)
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state == {"backend": "svg", "figures": [1], "mine": True}
    for name in ("k", "eps", "heat", "map", "loss"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
