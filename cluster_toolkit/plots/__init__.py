"""Pictures of a library: UMAP maps (PNG and interactive HTML), dendrograms, similarity heatmaps."""
