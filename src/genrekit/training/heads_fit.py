"""Heads on cached musicnn embeddings: fit, score, and turn into a bundle's :class:`MusicnnHead`.

Three kinds (a recipe's ``head``):

* ``"logreg"``: multinomial logistic regression (L2 strength ``1 / (C n)``, optional class
  weights), fitted full-batch with L-BFGS in the top :data:`N_COMPONENTS` principal directions of
  the standardised inputs and mapped back to one linear layer (fast on 2 shared cores);
* ``"torch"``: the same linear layer trained like genrekit's trainer trains heads: AdamW,
  mini-batches, dropout on the inputs, a fixed number of epochs;
* ``"mlp"``: one or more hidden ReLU layers, trained the same way.

Every kind is a :class:`FittedHead`: column indices into the cached matrix, the
standardisation, and a :class:`~genrekit.models.heads.MusicnnHead` whose logits it returns.
Logit-averaged ensembles of linear heads are again one linear head (:func:`merge_linear`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from genrekit.errors import InvalidParameterError
from genrekit.models.heads import MusicnnHead

N_COMPONENTS = 128
HEAD_KINDS = ("logreg", "torch", "mlp")


@dataclass
class FittedHead:
    """A head over columns ``cols`` of the cached embedding matrix."""

    cols: np.ndarray
    head: MusicnnHead

    def logits(self, x_all: np.ndarray) -> np.ndarray:
        """Uncalibrated logits ``(n, n_classes)`` of rows of the full cached matrix."""
        with torch.no_grad():
            self.head.eval()
            return self.head(torch.from_numpy(np.ascontiguousarray(x_all[:, self.cols], dtype=np.float32))).double().numpy()

    @property
    def is_linear(self) -> bool:
        return len(self.head.net) == 2


def class_weights(y: np.ndarray, n_classes: int, *, balance: bool) -> np.ndarray:
    """Per-sample weights: inverse class frequency (mean 1 over present classes) or ones."""
    if not balance:
        return np.ones(len(y))
    counts = np.bincount(y, minlength=n_classes).astype(float)
    per_class = counts.sum() / (np.count_nonzero(counts) * np.maximum(counts, 1))
    return per_class[y]


def _standardised_head(x: np.ndarray, n_classes: int, hidden_units: Sequence[int], dropout: float) -> MusicnnHead:
    head = MusicnnHead(x.shape[1], n_classes, tuple(hidden_units), dropout)
    head.set_standardization(x)
    return head


def principal_basis(x: np.ndarray, seed: int) -> tuple[MusicnnHead, torch.Tensor, torch.Tensor]:
    """(a head holding the standardisation of ``x``, the centre and the top
    :data:`N_COMPONENTS` principal directions ``(k, n_features)`` of the standardised rows)."""
    head = _standardised_head(x, 2, (), 0.0)
    z = (torch.from_numpy(x.astype(np.float32)) - head.mean) / head.scale
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    _, _, v = torch.pca_lowrank(z, q=min(N_COMPONENTS, *z.shape), center=True, niter=2)
    torch.random.set_rng_state(generator_state)
    return head, z.mean(0), v.T.contiguous()


def fit_logreg(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    *,
    n_classes: int,
    c: float,
    seed: int,
    basis: tuple[MusicnnHead, torch.Tensor, torch.Tensor] | None = None,
) -> MusicnnHead:
    """Weighted multinomial logistic regression (L2 ``||W||^2 / (2 C n)``) as a linear head.

    ``basis``: :func:`principal_basis` of the same ``x``, where the caller reuses it.
    """
    standardiser, center, projection = basis if basis is not None else principal_basis(x, seed)
    head = MusicnnHead(x.shape[1], n_classes)
    head.mean.copy_(standardiser.mean)
    head.scale.copy_(standardiser.scale)
    z = (torch.from_numpy(x.astype(np.float32)) - head.mean) / head.scale
    xt = (z - center) @ projection.T
    yt = torch.from_numpy(y.astype(np.int64))
    wt = torch.from_numpy(weights.astype(np.float32))
    weight = torch.zeros(n_classes, xt.shape[1], requires_grad=True)
    bias = torch.zeros(n_classes, requires_grad=True)
    l2 = 1.0 / (c * len(y))
    optimizer = torch.optim.LBFGS([weight, bias], lr=1, max_iter=150, tolerance_grad=1e-6, tolerance_change=1e-10,
                                  history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        ce = torch.nn.functional.cross_entropy(xt @ weight.T + bias, yt, reduction="none")
        loss = (wt * ce).sum() / wt.sum() + 0.5 * l2 * (weight**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        full = weight @ projection
        head.net[-1].weight.copy_(full)
        head.net[-1].bias.copy_(bias - full @ center)
    return head


def fit_adam(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    *,
    n_classes: int,
    hidden_units: Sequence[int],
    dropout: float,
    weight_decay: float,
    epochs: int,
    seed: int,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
) -> MusicnnHead:
    """A linear or MLP head trained with AdamW on weighted cross-entropy, fixed epochs."""
    torch.manual_seed(seed)
    head = _standardised_head(x, n_classes, hidden_units, dropout)
    xt = torch.from_numpy(x.astype(np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    wt = torch.from_numpy(weights.astype(np.float32))
    optimizer = torch.optim.AdamW(head.net.parameters(), lr=learning_rate, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    head.train()
    for _ in range(epochs):
        order = torch.randperm(len(yt), generator=generator)
        for first in range(0, len(order), batch_size):
            idx = order[first : first + batch_size]
            optimizer.zero_grad()
            ce = torch.nn.functional.cross_entropy(head(xt[idx]), yt[idx], reduction="none")
            loss = (wt[idx] * ce).sum() / wt[idx].sum()
            loss.backward()
            optimizer.step()
    head.eval()
    return head


def merge_linear(members: Sequence[FittedHead], cols: np.ndarray, x_all: np.ndarray) -> FittedHead:
    """One linear head over ``cols`` whose logits are the mean of the members' logits.

    ``cols`` must contain every member's columns; the merged head standardises with the
    statistics of ``x_all[:, cols]`` and maps each member's weights onto them.
    """
    if not all(m.is_linear for m in members):
        raise InvalidParameterError("only linear heads merge into one linear head")
    n_classes = members[0].head.net[-1].out_features
    merged = _standardised_head(x_all[:, cols], n_classes, (), 0.0)
    position = {int(c): i for i, c in enumerate(cols)}
    weight = torch.zeros(n_classes, len(cols), dtype=torch.float64)
    bias = torch.zeros(n_classes, dtype=torch.float64)
    for member in members:
        idx = torch.tensor([position[int(c)] for c in member.cols])
        w = member.head.net[-1].weight.double() / member.head.scale.double()
        weight[:, idx] += w * merged.scale.double()[idx]
        bias += member.head.net[-1].bias.double() + w @ (merged.mean.double()[idx] - member.head.mean.double())
    with torch.no_grad():
        merged.net[-1].weight.copy_(weight / len(members))
        merged.net[-1].bias.copy_(bias / len(members))
    return FittedHead(cols, merged)
