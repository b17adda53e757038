"Exact agreement of the token-level and action-level soft Bellman solvers on many random instances (etpo.theory)."
import numpy as np
import pytest

from etpo.theory import (TokenMDP, action_soft_vi, bellman_residual, compare_solvers, random_token_mdp,
                         tabular_etpo, token_kl_sum, token_soft_bellman)


@pytest.mark.parametrize("V", [2, 3, 5])
@pytest.mark.parametrize("L", [1, 2, 3])
@pytest.mark.parametrize("seed", [11, 12])
def test_token_and_action_optimum_agree(V, L, seed):
    mdp = random_token_mdp(S=4, V=V, L=L, H=4, beta=0.05 + seed % 3, gamma=0.99, seed=seed)
    gaps = compare_solvers(mdp)
    assert gaps["value_gap"] <= 1e-9 and gaps["policy_gap"] <= 1e-9, gaps


def test_optimal_action_policy_is_a_distribution_and_beats_reference():
    mdp = random_token_mdp(S=3, V=4, L=3, H=3, seed=1)
    act = action_soft_vi(mdp)
    np.testing.assert_allclose(np.exp(act["log_pi"]).sum(-1), 1.0, atol=1e-12)
    # soft value is at least the reference policy's expected Q (KL >= 0 and π* maximises E[Q] - β KL)
    log_rho_a = mdp.action_log_prob(np.log(mdp.rho))
    assert np.all(act["V"][0] >= (np.exp(log_rho_a) * act["Q"][0]).sum(-1) - 1e-12)


def test_kl_chain_rule_for_random_policies():
    rng = np.random.default_rng(3)
    for V, L in [(2, 4), (3, 3), (5, 2)]:
        mdp = random_token_mdp(S=2, V=V, L=L, seed=V + L)
        log_pi = np.log(rng.dirichlet(np.ones(V), size=(mdp.S, len(mdp.prefixes))))
        lp, lr = mdp.action_log_prob(log_pi), mdp.action_log_prob(np.log(mdp.rho))
        np.testing.assert_allclose((np.exp(lp) * (lp - lr)).sum(-1), token_kl_sum(mdp, log_pi), atol=1e-12)


def test_bellman_residual_zero_only_for_the_equations():
    mdp = random_token_mdp(S=2, V=3, L=3, H=2, beta=1.0, seed=4)
    sol = token_soft_bellman(mdp)
    assert bellman_residual(mdp, sol) < 1e-12
    assert bellman_residual(mdp, sol, kl_shift=True) > 1e-3


def test_tokenmdp_rejects_bad_shapes_and_distributions():
    m = random_token_mdp(S=2, V=3, L=2)
    with pytest.raises(ValueError, match="r must be"):
        TokenMDP(rho=m.rho, r=m.r[:, :-1], P=m.P, L=2, H=2)
    with pytest.raises(ValueError, match="probability"):
        TokenMDP(rho=m.rho * 2, r=m.r, P=m.P, L=2, H=2)


def test_sampled_tabular_etpo_converges():
    mdp = random_token_mdp(S=2, V=3, L=2, H=2, beta=0.5, seed=8)
    run = tabular_etpo(mdp, n_updates=600, seed=1)
    assert run["distance"][-50:].mean() < 0.05 < run["distance"][0]
