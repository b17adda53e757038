"etpo.losses against float64 brute force on random shapes, masks and dtypes."
import pytest
import torch

from etpo.losses import (critic_loss, gae_advantages, kl_penalized_rewards, policy_loss, policy_stats,
                         soft_value, token_logprobs, token_targets)
from etpo.theory import random_token_mdp, token_soft_bellman


def _rand(*shape, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g) * scale


def _prefix_mask(lengths, T):
    return (torch.arange(T) < torch.tensor(lengths)[:, None]).long()


def _naive(pi, q, ref, beta):
    logp, logr = torch.log_softmax(pi.double(), -1), torch.log_softmax(ref.double(), -1)
    p = logp.exp()
    v = (p * (q.double() - beta * (logp - logr))).sum(-1)
    per_tok_loss = (p * (beta * (logp - logr) - q.double())).sum(-1)
    return v, per_tok_loss


@pytest.mark.parametrize("B,T,V,chunk", [(1, 1, 2, None), (3, 7, 11, None), (2, 9, 50, 2), (4, 5, 3, 100)])
@pytest.mark.parametrize("beta", [0.01, 0.5])
def test_soft_value_matches_float64(B, T, V, chunk, beta):
    q, pi, ref = _rand(B, T, V, seed=1), _rand(B, T, V, seed=2), _rand(B, T, V, seed=3)
    v = soft_value(q, pi, ref, beta, chunk_size=chunk)
    assert v.shape == (B, T) and v.dtype == torch.float32
    torch.testing.assert_close(v.double(), _naive(pi, q, ref, beta)[0], atol=1e-4, rtol=1e-5)


def test_soft_value_bf16_inputs_close_to_float32():
    q, pi, ref = _rand(2, 6, 1000, seed=1), _rand(2, 6, 1000, seed=2), _rand(2, 6, 1000, seed=3)
    v32 = soft_value(q, pi, ref, 0.1)
    v16 = soft_value(q.bfloat16(), pi.bfloat16(), ref.bfloat16(), 0.1)
    assert v16.dtype == torch.float32
    torch.testing.assert_close(v16, v32, atol=0.1, rtol=0.02)   # bf16 has ~3 significant digits


def test_soft_value_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="share one"):
        soft_value(torch.zeros(1, 2, 3), torch.zeros(1, 2, 4), torch.zeros(1, 2, 3), 0.1)


@pytest.mark.parametrize("lengths", [[5, 1, 3], [0, 5, 2]])
def test_policy_loss_value_and_gradient(lengths):
    B, T, V, beta = 3, 5, 13, 0.2
    q, pi, ref = _rand(B, T, V, seed=4), _rand(B, T, V, seed=5), _rand(B, T, V, seed=6)
    mask = _prefix_mask(lengths, T)
    pi64 = pi.double().requires_grad_(True)
    per_tok = _naive(pi64, q, ref, beta)[1]
    want = (per_tok * mask).sum() / mask.sum()
    want.backward()
    z = pi.clone().requires_grad_(True)
    got = policy_loss(z, q, ref, beta, mask, chunk_size=2)
    got.backward()
    torch.testing.assert_close(got.double(), want.detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(z.grad.double(), pi64.grad, atol=1e-6, rtol=1e-4)
    assert z.grad[mask == 0].abs().max() == 0


def test_policy_loss_bf16_gradient_dtype_and_all_masked():
    z = _rand(2, 4, 8, seed=7).bfloat16().requires_grad_(True)
    loss = policy_loss(z, _rand(2, 4, 8, seed=8).bfloat16(), _rand(2, 4, 8, seed=9).bfloat16(), 0.1, torch.ones(2, 4))
    loss.backward()
    assert loss.dtype == torch.float32 and z.grad.dtype == torch.bfloat16 and torch.isfinite(z.grad.float()).all()
    z.grad = None
    empty = policy_loss(z, z.detach(), z.detach(), 0.1, torch.zeros(2, 4))
    assert empty.item() == 0.0


def test_token_targets_against_loop():
    g = torch.Generator().manual_seed(0)
    B, T, gamma = 6, 8, 0.9
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    mask = _prefix_mask(lengths.tolist(), T)
    v, r, nv = torch.randn(B, T, generator=g), torch.randn(B, generator=g), torch.randn(B, generator=g)
    d = torch.randint(0, 2, (B,), generator=g)
    y = token_targets(v, r, nv, d, mask, gamma)
    for b in range(B):
        n = int(lengths[b])
        for j in range(T):
            want = 0.0 if j >= n else (v[b, j + 1].item() if j < n - 1 else r[b].item() + gamma * (1 - d[b].item()) * nv[b].item())
            assert abs(y[b, j].item() - want) < 1e-6


def test_critic_loss_gradient_only_on_taken_tokens_and_huber_regimes():
    q = _rand(2, 3, 5, seed=1).requires_grad_(True)
    actions = torch.tensor([[0, 1, 2], [4, 4, 4]])
    targets = q.detach().gather(-1, actions[..., None])[..., 0] + torch.tensor([[1.0, 50.0, 0.0], [-2.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    loss = critic_loss(q, actions, targets, mask, delta=10.0)
    # errors -1, -50, 0, +2 on 4 real tokens: 0.5, 10*(50-5), 0, 2
    assert abs(loss.item() - (0.5 + 450 + 0 + 2) / 4) < 1e-4
    loss.backward()
    nz = (q.grad != 0).nonzero().tolist()
    assert sorted(nz) == sorted([[0, 0, 0], [0, 1, 1], [1, 0, 4]])   # error 0 token has zero gradient too


def test_losses_at_the_exact_optimum_of_a_token_mdp():
    "At the exact tabular optimum: V matches, critic loss 0, policy gradient 0, for every state and step."
    mdp = random_token_mdp(S=2, V=4, L=3, H=3, beta=0.3, gamma=0.95, seed=21)
    sol = token_soft_bellman(mdp)
    acts = [a for a in mdp.actions if len(a) == 3][:6]
    for h in range(mdp.H):
        for s in range(mdp.S):
            pref = [[mdp.prefix_index[a[:j]] for j in range(3)] for a in acts]
            q = torch.tensor(sol["Q_tok"][h, s][pref])                 # (B, 3, V)
            pi = torch.tensor(sol["log_pi_tok"][h, s][pref])
            ref = torch.log(torch.tensor(mdp.rho[s][pref]))
            v = soft_value(q, pi, ref, mdp.beta)
            torch.testing.assert_close(v.double(), torch.tensor(sol["V_tok"][h, s][pref]), atol=1e-5, rtol=1e-6)
            a_ids = [mdp.action_index[a] for a in acts]
            next_v = torch.tensor(mdp.P[s, a_ids] @ sol["V"][h + 1])
            dones = torch.full((len(acts),), float(h == mdp.H - 1))
            y = token_targets(v, torch.tensor(mdp.r[s, a_ids]), next_v, dones, torch.ones(len(acts), 3), mdp.gamma)
            assert critic_loss(q, torch.tensor(acts), y, torch.ones(len(acts), 3)).item() < 1e-9
            z = pi.clone().requires_grad_(True)
            policy_loss(z, q, ref, mdp.beta, torch.ones(len(acts), 3)).backward()
            assert z.grad.abs().max().item() < 1e-6


def test_gae_with_lambda_one_is_monte_carlo_return():
    B, T = 2, 4
    mask = _prefix_mask([4, 2], T)
    values = _rand(B, T, seed=3) * mask
    rewards = torch.tensor([1.0, -1.0])
    tr = kl_penalized_rewards(rewards, torch.zeros(B, T), torch.zeros(B, T), mask, kl_coef=0.5)
    adv, ret = gae_advantages(tr, values, torch.tensor([2.0, 2.0]), torch.tensor([0, 1]), mask, gamma=0.5, lam=1.0)
    # no discount inside the action: the return of every token is r + γ(1-done)V(s')
    torch.testing.assert_close(ret, torch.tensor([[2.0] * 4, [-1.0, -1.0, 0.0, 0.0]]))
    torch.testing.assert_close(adv, (ret - values) * mask)


def test_token_logprobs_and_stats_shapes():
    logits, ref = _rand(2, 3, 6, seed=1), _rand(2, 3, 6, seed=2)
    acts = torch.randint(0, 6, (2, 3))
    lp = token_logprobs(logits, acts, chunk_size=1)
    torch.testing.assert_close(lp, torch.log_softmax(logits, -1).gather(-1, acts[..., None])[..., 0])
    kl, ent = policy_stats(logits, ref)
    assert kl.shape == ent.shape == (2, 3) and (kl >= 0).all() and (ent <= torch.log(torch.tensor(6.0)) + 1e-6).all()
