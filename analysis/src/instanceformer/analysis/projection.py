"""2-d projections of instance embeddings: PCA, or t-SNE on the leading principal components."""

from __future__ import annotations

import numpy as np

from instanceformer.core.errors import UserError

PCA_COMPONENTS_BEFORE_TSNE = 50
PROJECTION_METHODS = ("tsne", "pca")
# Up to this many rows t-SNE uses the exact gradient: fast at that size, and the Barnes-Hut tree can
# take tens of seconds on a few dozen tightly clustered points.
EXACT_TSNE_MAX_ROWS = 1000


def project_embeddings(
    embeddings: np.ndarray, method: str = "tsne", perplexity: float = 30.0, seed: int = 0
) -> tuple[np.ndarray, float | None]:
    """Project embeddings to 2-d.

    Args:
        embeddings: ``[N, d_model]`` float.
        method: ``tsne`` (PCA to at most 50 components, then t-SNE; the exact gradient up to
            :data:`EXACT_TSNE_MAX_ROWS` rows, Barnes-Hut above) or ``pca``.
        perplexity: t-SNE perplexity; lowered to ``(N - 1) / 3`` for small ``N``.
        seed: random state of t-SNE.

    Returns:
        ``([N, 2] coordinates, the perplexity used or None for PCA)``.
    """
    from sklearn.decomposition import PCA

    if method not in PROJECTION_METHODS:
        raise UserError(f"--method: expected one of {', '.join(PROJECTION_METHODS)}, got {method!r}")
    if perplexity <= 0:
        raise UserError(f"--perplexity: expected a positive number, got {perplexity}")
    num_rows, num_features = embeddings.shape
    if num_rows < 3:
        raise UserError(f"embeddings: need at least 3 rows to project, got {num_rows}")
    data = embeddings.astype(np.float64)
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(data), None
    from sklearn.manifold import TSNE

    components = min(PCA_COMPONENTS_BEFORE_TSNE, num_features, num_rows)
    reduced = PCA(n_components=components, random_state=seed).fit_transform(data)  # [N, components]
    used = min(perplexity, (num_rows - 1) / 3)
    gradient = "exact" if num_rows <= EXACT_TSNE_MAX_ROWS else "barnes_hut"
    tsne = TSNE(n_components=2, perplexity=used, init="pca", random_state=seed, method=gradient)
    return tsne.fit_transform(reduced), used
