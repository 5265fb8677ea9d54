"""Freezing that stays frozen: parameters stop receiving gradients *and* BatchNorm stops updating its running
statistics, even when a training loop calls ``model.train()``.

``requires_grad = False`` alone is not enough for a network with BatchNorm (Ioffe & Szegedy 2015): in training
mode a BN layer still replaces its running mean/variance by the statistics of each new batch, so a "frozen"
feature extractor would drift towards the target data and no longer compute the features its head was trained
on. :func:`freeze` therefore pins every BatchNorm inside the frozen part in eval mode: its ``train`` method is
replaced on the instance, so ``model.train()`` (which calls ``child.train(True)`` on every child) leaves it in
eval mode; :func:`unfreeze` undoes both.
"""

from __future__ import annotations

import types
from collections.abc import Iterator

from torch import nn

from ..errors import CnnzooError, OptionError

_PINNED = "_cnnzoo_frozen_bn"


def _pinned_train(self: nn.Module, mode: bool = True) -> nn.Module:
    """``train`` of a frozen BatchNorm: always eval mode (running statistics untouched)."""
    nn.Module.train(self, False)
    return self


def _batchnorms(module: nn.Module) -> Iterator[nn.Module]:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            yield m


def freeze(module: nn.Module) -> nn.Module:
    """Freeze ``module`` in place: no gradients for its parameters, its BatchNorm layers pinned in eval
    mode."""
    for p in module.parameters():
        p.requires_grad_(False)
    return freeze_batchnorm(module)


def unfreeze(module: nn.Module) -> nn.Module:
    """Undo :func:`freeze` on ``module``: gradients again, BatchNorm follows ``train()``/``eval()`` again (it
    takes the mode of ``module`` itself)."""
    for p in module.parameters():
        p.requires_grad_(True)
    for bn in _batchnorms(module):
        if getattr(bn, _PINNED, False):
            del bn.train
            delattr(bn, _PINNED)
        bn.train(module.training)
    return module


def freeze_batchnorm(module: nn.Module) -> nn.Module:
    """Keep every BatchNorm in ``module`` in inference mode (running statistics used and never updated, even
    through ``model.train()``) while its scale and shift still train where their layer does: Keras' advice
    for fine-tuning on small data ("keep the BatchNormalization layers in inference mode", its transfer
    guide) and fastai's frozen-statistics behaviour. Batch statistics of a few dozen images from another
    distribution would otherwise replace the statistics the pre-trained weights were fitted to."""
    for bn in _batchnorms(module):
        if not getattr(bn, _PINNED, False):
            bn.train = types.MethodType(_pinned_train, bn)  # type: ignore[method-assign]
            setattr(bn, _PINNED, True)
        bn.train(False)
    return module


def is_frozen(module: nn.Module) -> bool:
    """True when no parameter of ``module`` requires a gradient and every BatchNorm in it is pinned."""
    return all(not p.requires_grad for p in module.parameters()) and all(
        getattr(bn, _PINNED, False) for bn in _batchnorms(module)
    )


def classifier_of(model: nn.Module) -> nn.Module:
    """The final layer of a cnnzoo model (``get_classifier()``); a clear error for other modules."""
    get = getattr(model, "get_classifier", None)
    if get is None:
        raise CnnzooError(f"{type(model).__name__} has no get_classifier(); transfer needs a cnnzoo model.")
    return get()


def head_modules(model: nn.Module) -> list[nn.Module]:
    """What a strategy trains as "the head" while the body stays frozen: the classifier, and, when the
    classifier has no parameters (LeNet-5's output layer of fixed RBF prototypes, LeCun et al. 1998,
    Sec. II-B), also the last parameter-holding layer group before it (F6), so that a head-only phase has
    something to train."""
    head = classifier_of(model)
    if any(True for _ in head.parameters()):
        return [head]
    groups = getattr(model, "layer_groups", None)
    if groups is None:
        raise CnnzooError(f"{type(model).__name__} has no layer_groups(); transfer needs a cnnzoo model.")
    below = [g for g in groups().values() if any(True for _ in g.parameters())]
    return [below[-1], head] if below else [head]


def trainable_groups(model: nn.Module) -> list[tuple[str, list[nn.Parameter]]]:
    """The model's layer groups (input to output) that hold parameters, as ``(name, params)``; the
    classifier's parameters always form the last entry ``("head", ...)``, whatever group they sit in.

    Every parameter appears exactly once (a parameter shared by two groups is counted in the first)."""
    groups = getattr(model, "layer_groups", None)
    if groups is None:
        raise CnnzooError(f"{type(model).__name__} has no layer_groups(); transfer needs a cnnzoo model.")
    head_ids = {id(p) for p in classifier_of(model).parameters()}
    seen: set[int] = set(head_ids)
    out: list[tuple[str, list[nn.Parameter]]] = []
    for name, group in groups().items():
        params = [p for p in group.parameters() if id(p) not in seen]
        seen.update(id(p) for p in params)
        if params:
            out.append((name, params))
    rest = [p for p in model.parameters() if id(p) not in seen]
    if rest:  # parameters outside every named group (none in cnnzoo's models): treat them as the first group
        out.insert(0, ("other", rest))
    out.append(("head", list(classifier_of(model).parameters())))
    return out


def freeze_body(model: nn.Module) -> nn.Module:
    """Freeze everything but the head (the lectures' "freeze these, train this"): the classifier, or where it
    has no parameters the layer group below it too (:func:`head_modules`)."""
    heads = head_modules(model)
    freeze(model)
    for m in heads:
        unfreeze(m)
    return model


def unfreeze_last(model: nn.Module, k: int | str) -> list[str]:
    """Unfreeze the classifier and the last ``k`` parameter-holding layer groups before it (``"all"``: every
    group). Returns the names of the groups now trainable. BatchNorm layers in the groups left frozen stay
    pinned in eval mode."""
    groups = getattr(model, "layer_groups", None)
    if groups is None:
        raise CnnzooError(f"{type(model).__name__} has no layer_groups(); transfer needs a cnnzoo model.")
    named = [(n, g) for n, g in groups().items() if any(True for _ in g.parameters())]
    head = classifier_of(model)
    head_ids = {id(p) for p in head.parameters()}
    body = [(n, g) for n, g in named if not {id(p) for p in g.parameters()} <= head_ids]
    if k == "all":
        chosen = body
    else:
        if not isinstance(k, int) or k < 0:
            raise OptionError(
                f"unfreeze takes a number of layer groups (0 or more) or 'all', got {k!r}.", "unfreeze"
            )
        chosen = body[len(body) - k :] if k else []
    if k == "all":
        unfreeze(model)
    else:
        for _, g in chosen:
            unfreeze(g)
    unfreeze(head)
    return [n for n, _ in chosen] + ["head"]
