"""Zero-cost proxies: scores computed on an untrained network from one small batch that
rank architectures by their trained accuracy (Abdelfattah et al., ICLR 2021; Mellor et al.,
ICML 2021; definitions as in NASLib / NAS-Bench-Suite-Zero).

Data-free: `synflow` (log of the synaptic-flow sum, BN removed, all-ones input), `params`,
`flops`. Data-dependent, on one batch of real images with their labels: `nwot` (NASWOT,
log-determinant of the ReLU-code Hamming kernel), `jacov` (Jacobian covariance),
`grad_norm`, `snip`, `fisher`, `grasp`. CIFAR cannot be downloaded here, so the batch comes
from a dataset that is available (Fashion-MNIST, or scikit-learn digits) resized and
replicated to the network's input shape; every result says which."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnas.registry import Registry

if TYPE_CHECKING:
    import torch
    from torch import nn

    from hwnas.spaces import Architecture, SearchSpace


@dataclass
class ProxyBatch:
    """Inputs (N, C, H, W) float and integer targets, with where they came from."""

    x: torch.Tensor
    y: torch.Tensor
    provenance: dict[str, Any] = field(default_factory=dict)


def default_data() -> str:
    """Fashion-MNIST when it is installed (the real images closest to CIFAR available
    here), else scikit-learn's digits, which ship with a dependency."""
    from hwnas.datasets._idx import FASHION_MNIST_DIR

    return "fashion-mnist" if FASHION_MNIST_DIR.is_dir() else "digits"


def proxy_batch(
    data: str, input_shape: Sequence[int], batch_size: int = 64, seed: int = 0
) -> ProxyBatch:
    """`batch_size` training images of dataset spec `data`, drawn with `seed`, as inputs of
    `input_shape` (resized, grey replicated to 3 channels, normalised)."""
    import torch

    from hwnas.datasets import load_dataset, to_float_images
    from hwnas.errors import SpecError

    if len(input_shape) != 3:  # token ids (a text space): no images to feed
        raise SpecError(
            f"data-dependent proxies need image inputs; these networks take {tuple(input_shape)} "
            f"(token ids): use the data-free proxies ({', '.join(DATA_FREE)})"
        )
    ds = load_dataset(data)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(ds.train), size=min(batch_size, len(ds.train)), replace=False))
    c, h, w = input_shape
    if h != w:
        raise ValueError(f"square inputs only, got {h}x{w}")
    x = to_float_images(ds.train.x[idx], c, h)
    prov = {
        **ds.provenance,
        "images": f"{len(idx)} training images drawn with seed {seed}",
        "transform": f"{ds.image_shape} -> {tuple(input_shape)}: bilinear resize, grey "
        "replicated to 3 channels, (x - 0.5) / 0.25",
    }
    return ProxyBatch(x, torch.from_numpy(ds.train.y[idx]), prov)


class _Passes:
    """The forward/backward passes proxies share, each run once per network."""

    def __init__(
        self,
        make_model: Callable[[], nn.Module],
        batch: ProxyBatch | None,
        input_shape: Sequence[int],
    ) -> None:
        self.make_model = make_model
        self.batch = batch
        self.input_shape = tuple(input_shape)
        self._cache: dict[str, dict[str, float]] = {}

    def need_batch(self, proxy: str) -> ProxyBatch:
        if self.batch is None:
            raise ValueError(f"proxy {proxy!r} needs a batch of data")
        return self.batch

    def get(self, name: str, compute: Callable[[], dict[str, float]]) -> dict[str, float]:
        if name not in self._cache:
            self._cache[name] = compute()
        return self._cache[name]


ProxyFn = Callable[[_Passes], float]
PROXIES: Registry[ProxyFn] = Registry("proxy")
#: Proxies that need no data, and the order `all` lists every proxy in.
DATA_FREE: tuple[str, ...] = ("synflow", "params", "flops")
ORDER: tuple[str, ...] = (
    "synflow", "nwot", "jacov", "snip", "grad_norm", "fisher", "grasp", "params", "flops",
)  # fmt: skip


def register_proxy(name: str) -> Callable[[ProxyFn], ProxyFn]:
    return PROXIES.register(name)


def list_proxies() -> list[str]:
    return [p for p in ORDER if p in PROXIES] + [p for p in PROXIES.names() if p not in ORDER]


def _weighted_layers(model: nn.Module) -> list[nn.Conv2d | nn.Linear]:
    from torch import nn

    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _without_bn(model: nn.Module) -> nn.Module:
    """A copy with every BatchNorm replaced by identity, as NASLib computes synflow."""
    from torch import nn

    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(parent, name, nn.Identity())
    return model


def _signed_log(value: float) -> float:
    return math.copysign(math.log(abs(value)), value) if value != 0 else 0.0


@register_proxy("synflow")
def synflow(passes: _Passes) -> float:
    """log(sum |theta * dR/dtheta|) over conv/linear weights, where R is the sum of the
    outputs of the BN-free network with |theta| weights on an all-ones input (double)."""
    import torch

    model = _without_bn(passes.make_model()).double().eval()
    with torch.no_grad():
        for p in model.state_dict().values():
            p.abs_()
    model.zero_grad()
    shape = passes.input_shape
    model(torch.ones(1, *shape, dtype=torch.float64)).sum().backward()
    total = sum(
        float((m.weight * m.weight.grad).detach().abs().sum())
        for m in _weighted_layers(model)
        if m.weight.grad is not None
    )
    return _signed_log(total)


def _loss_pass(passes: _Passes) -> dict[str, float]:
    """snip, grad_norm and fisher from one cross-entropy forward/backward in train mode."""
    import torch.nn.functional as F

    batch = passes.need_batch("snip/grad_norm/fisher")
    model = passes.make_model().train()
    layers = _weighted_layers(model)
    acts: list[torch.Tensor] = []

    def keep(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        if output.requires_grad:
            output.retain_grad()
            acts.append(output)

    handles = [m.register_forward_hook(keep) for m in layers[:-1]]  # conv outputs
    try:
        model.zero_grad()
        F.cross_entropy(model(batch.x), batch.y).backward()
    finally:
        for h in handles:
            h.remove()
    grads = [(m.weight, m.weight.grad) for m in layers if m.weight.grad is not None]
    fisher = sum(
        float((a.detach() * a.grad).sum(dim=(2, 3)).pow(2).mean(0).mul(0.5).sum())
        for a in acts
        if a.grad is not None and a.dim() == 4
    )
    return {
        "snip": sum(float((w.detach() * g).abs().sum()) for w, g in grads),
        "grad_norm": sum(float(g.norm()) for _, g in grads),
        "fisher": fisher,
    }


@register_proxy("snip")
def snip(passes: _Passes) -> float:
    """sum |theta * dL/dtheta| (connection sensitivity, Lee et al. 2019)."""
    return passes.get("loss", lambda: _loss_pass(passes))["snip"]


@register_proxy("grad_norm")
def grad_norm(passes: _Passes) -> float:
    """sum over layers of the L2 norm of dL/dW."""
    return passes.get("loss", lambda: _loss_pass(passes))["grad_norm"]


@register_proxy("fisher")
def fisher(passes: _Passes) -> float:
    """sum over conv outputs and channels of 0.5 * mean_batch (sum_spatial a * dL/da)^2
    (Theis et al. 2018, as in Abdelfattah et al.)."""
    return passes.get("loss", lambda: _loss_pass(passes))["fisher"]


def _relu_codes_kernel(passes: _Passes) -> float:
    """NASWOT's log|K| from one gradient-free forward pass."""
    import torch
    from torch import nn

    batch = passes.need_batch("nwot")
    model = passes.make_model().train()
    n = len(batch.x)
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def codes(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        c = (output.detach().reshape(n, -1) > 0).double()
        kernel.add_(c @ c.t()).add_((1.0 - c) @ (1.0 - c).t())

    handles = [m.register_forward_hook(codes) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            model(batch.x)
    finally:
        for h in handles:
            h.remove()
    sign, logdet = np.linalg.slogdet(kernel.numpy())
    return float(logdet) if sign > 0 else -math.inf


def _jacobian_covariance(passes: _Passes) -> float:
    """jacov from the input gradients of one forward/backward (no weight gradients)."""
    import torch

    batch = passes.need_batch("jacov")
    model = passes.make_model().train()
    for p in model.parameters():
        p.requires_grad_(False)
    n = len(batch.x)
    x = batch.x.clone().requires_grad_(True)
    out = model(x)
    out.backward(torch.ones_like(out))
    assert x.grad is not None
    jac = x.grad.reshape(n, -1).double().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(jac)
    if not np.isfinite(corr).all():
        return -math.inf  # constant Jacobians (no input-output path): the worst score
    eig = np.linalg.eigvalsh(corr)
    return float(-np.sum(np.log(eig + 1e-5) + 1.0 / (eig + 1e-5)))


@register_proxy("jacov")
def jacov(passes: _Passes) -> float:
    """-sum(log(l + k) + 1/(l + k)) over the eigenvalues l of the correlation matrix of
    the input Jacobians (Mellor et al., v1), k = 1e-5."""
    return _jacobian_covariance(passes)


@register_proxy("nwot")
def nwot(passes: _Passes) -> float:
    """NASWOT: log|K| with K_ij the number of ReLU units on which images i and j agree
    (Mellor et al. 2021)."""
    return _relu_codes_kernel(passes)


@register_proxy("grasp")
def grasp(passes: _Passes) -> float:
    """-sum theta * (H g) over conv/linear weights (Wang et al. 2020, as in NASLib)."""
    import torch
    import torch.nn.functional as F

    batch = passes.need_batch("grasp")
    model = passes.make_model().train()
    weights = [m.weight for m in _weighted_layers(model)]
    loss = F.cross_entropy(model(batch.x), batch.y)
    grad_w = [g.detach() for g in torch.autograd.grad(loss, weights, allow_unused=True)]
    loss = F.cross_entropy(model(batch.x), batch.y)
    grad_f = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    z = sum((gw * gf).sum() for gw, gf in zip(grad_w, grad_f) if gf is not None)
    model.zero_grad()
    z.backward()  # type: ignore[union-attr]
    return sum(float((-w.detach() * w.grad).sum()) for w in weights if w.grad is not None)


@register_proxy("params")
def params(passes: _Passes) -> float:
    """Parameters in millions."""
    model = passes.make_model()
    return sum(p.numel() for p in model.parameters()) / 1e6


@register_proxy("flops")
def flops(passes: _Passes) -> float:
    """FLOPs in millions of one image, counted as NAS-Bench-201 counts them."""
    from hwnas.models.nb201 import count_flops

    return count_flops(passes.make_model(), passes.input_shape)


def compute_proxies(
    space: SearchSpace,
    arch: Architecture,
    dataset: str,
    names: Sequence[str],
    batch: ProxyBatch | None,
    seed: int = 0,
    classes: int | None = None,
) -> dict[str, float]:
    """Every proxy of `names` for `arch` built for `dataset` with `classes` outputs (None:
    the dataset's). Each pass starts from the same seeded initialisation, so the scores are
    reproducible."""
    return model_proxies(
        lambda: space.build(arch, dataset, classes),
        names,
        batch,
        space.input_shape(dataset),
        seed,
    )


def model_proxies(
    build: Callable[[], nn.Module],
    names: Sequence[str],
    batch: ProxyBatch | None,
    input_shape: Sequence[int],
    seed: int = 0,
) -> dict[str, float]:
    """Proxies of the network `build()` returns after seeding; every pass gets its own copy."""
    import torch

    from hwnas.errors import UnknownNameError

    for name in names:
        if name not in PROXIES:
            raise UnknownNameError("proxy", name, list_proxies())

    pristine: list[nn.Module] = []

    def make_model() -> nn.Module:
        """A fresh copy of one seeded initialisation (built once: building costs more)."""
        if not pristine:
            torch.manual_seed(seed)
            pristine.append(build())
        return copy.deepcopy(pristine[0])

    passes = _Passes(make_model, batch, input_shape)
    return {name: float(PROXIES.get(name)(passes)) for name in names}


def resolve_names(requested: Sequence[str]) -> list[str]:
    """Proxy names from `--proxy` values: `all`, names, or comma-separated lists."""
    from hwnas.errors import UnknownNameError

    names: list[str] = []
    for item in requested:
        for name in (n.strip() for n in item.split(",")):
            if not name:
                continue
            chosen = list_proxies() if name == "all" else [name]
            for n in chosen:
                if n not in PROXIES:
                    raise UnknownNameError("proxy", n, [*list_proxies(), "all"])
                if n not in names:
                    names.append(n)
    if not names:
        raise UnknownNameError("proxy", "", [*list_proxies(), "all"])
    return names


def score_archs(
    space: SearchSpace,
    archs: Sequence[Architecture],
    dataset: str,
    names: Sequence[str],
    data: str | None = None,
    batch_size: int = 64,
    seed: int = 0,
    threads: int = 1,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[dict[str, float]], dict[str, Any]]:
    """Proxy scores of many architectures, and the provenance of the whole set: the images
    used (None when every proxy is data-free), the seed, batch size, threads and versions.
    Networks are built with the class count of `data` when it is given (the user's data),
    else with the dataset's (the default images stand in for it)."""
    import time

    import torch

    from hwnas.datasets import data_classes
    from hwnas.datasets.catalogue import head_classes

    space.check_dataset(dataset)
    torch.set_num_threads(threads)
    needs_data = any(n not in DATA_FREE for n in names)
    classes = data_classes(data)
    data = data or default_data()
    batch = proxy_batch(data, space.input_shape(dataset), batch_size, seed) if needs_data else None
    rows = []
    start = time.perf_counter()
    for i, arch in enumerate(archs):
        rows.append(compute_proxies(space, arch, dataset, names, batch, seed, classes))
        if progress is not None:
            progress(i + 1)
    provenance = {
        "kind": "zero-cost proxies",
        "space": space.name,
        "network_dataset": dataset,
        "classes": head_classes(dataset, classes),
        "proxies": list(names),
        "data": batch.provenance if batch is not None else None,
        "note": "data-dependent proxies use the images named in `data`, not the network's dataset"
        if needs_data
        else "data-free proxies only",
        "seed": seed,
        "batch_size": batch_size if needs_data else None,
        "threads": threads,
        "torch": torch.__version__,
        "seconds_per_arch": (time.perf_counter() - start) / max(len(archs), 1),
    }
    return rows, provenance
