"""medaug.train.finite: the trainer's NaN / Inf guard names the epoch, the batch and the first bad term."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from medaug.train.finite import NonFiniteError, all_finite, check_gradients, check_terms


def test_all_finite_sees_one_nan_among_many_tensors():
    tensors = [torch.zeros(3), torch.ones(2, 2), torch.empty(0)]
    assert all_finite(tensors) and all_finite([])
    tensors[1][1, 0] = math.inf
    assert not all_finite(tensors)
    assert not all_finite([torch.tensor([1.0, math.nan]), torch.zeros(2)])
    assert not all_finite([torch.tensor(-math.inf)])


def test_the_error_keeps_epoch_batch_and_term():
    error = NonFiniteError(4, 7, "loss")
    assert str(error) == "non-finite value in loss at epoch 4, batch 7"
    assert (error.epoch, error.batch, error.term) == (4, 7, "loss")
    assert isinstance(error, RuntimeError)


def _output(**terms):
    loss = -sum(terms.values())
    return SimpleNamespace(terms=terms, loss=loss)


def test_check_terms_passes_finite_terms_and_names_the_first_bad_one():
    check_terms(_output(reconstruction=torch.tensor(-3.0), kl=torch.tensor(1.0)), 1, 1)
    with pytest.raises(NonFiniteError, match=r"ELBO term 'kl' at epoch 2, batch 5"):
        check_terms(_output(reconstruction=torch.tensor(-3.0), kl=torch.tensor(math.inf)), 2, 5)
    with pytest.raises(NonFiniteError, match=r"ELBO term 'reconstruction'"):
        check_terms(_output(reconstruction=torch.tensor([0.0, math.nan]), kl=torch.tensor(math.nan)), 2, 5)


def test_check_terms_names_the_loss_when_only_the_loss_is_bad():
    output = SimpleNamespace(terms={"kl": torch.tensor(1.0)}, loss=torch.tensor(math.nan))
    with pytest.raises(NonFiniteError) as raised:
        check_terms(output, 3, 0)
    assert raised.value.term == "loss"


def test_check_gradients_names_the_parameter_and_skips_those_without_gradient():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    model(torch.ones(1, 2)).sum().backward()
    check_gradients(model, 1, 1)
    model[1].bias.grad.fill_(math.nan)
    with pytest.raises(NonFiniteError, match=r"gradient of 1\.bias at epoch 6, batch 2"):
        check_gradients(model, 6, 2)
    model[1].bias.grad = None  # no gradient: not checked
    check_gradients(model, 6, 2)
