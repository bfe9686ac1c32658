"""Pictures of a library: UMAP maps (PNG and interactive HTML), dendrograms, similarity heatmaps, feature views
and the automatic parameter curves, drawn on matplotlib figures without pyplot (:mod:`._mpl`)."""
