"""Bayesian ridge regression in closed form: the posterior over linear weights gives a
predictive standard deviation for free, and refits in milliseconds, so a strategy can
refit it after every batch and score a whole space."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwnas.predictors import register_predictor
from hwnas.predictors._base import Predictor


@register_predictor("ridge")
@dataclass(eq=False, repr=False)
class BayesianRidge(Predictor):
    """Linear model with a Gaussian prior (precision `alpha`) on the weights and Gaussian
    noise; with `fit_evidence`, both precisions are set by maximising the evidence
    (MacKay's updates), otherwise `alpha` is fixed and the noise is estimated."""

    description = "Bayesian ridge regression (closed-form posterior, evidence-tuned)"

    alpha: float = 1.0
    fit_evidence: bool = True
    max_iter: int = 30

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        n = X.shape[0]
        self.x_mean_ = X.mean(axis=0)
        Xc = X - self.x_mean_
        # eigen-decomposition of X^T X makes every (alpha, beta) solve O(d^2)
        evals, evecs = np.linalg.eigh(Xc.T @ Xc)
        evals = np.maximum(evals, 0.0)
        proj = evecs.T @ (Xc.T @ y)
        alpha, beta = float(self.alpha), 1.0
        for _ in range(self.max_iter if self.fit_evidence else 1):
            w = evecs @ (proj / (evals * beta + alpha) * beta)
            resid = float(np.sum((y - Xc @ w) ** 2))
            gamma = float(np.sum(beta * evals / (beta * evals + alpha)))
            if self.fit_evidence:
                alpha_new = gamma / max(float(w @ w), 1e-12)
            else:
                alpha_new = alpha
            beta_new = max(n - gamma, 1e-6) / max(resid, 1e-12)
            done = abs(alpha_new - alpha) < 1e-6 * alpha and abs(beta_new - beta) < 1e-6 * beta
            alpha, beta = alpha_new, min(beta_new, 1e8)
            if done:
                break
        self.alpha_, self.beta_ = alpha, beta
        self.coef_ = evecs @ (proj / (evals * beta + alpha) * beta)
        # posterior covariance of the weights, and of the intercept (the mean of y)
        self.sigma_ = (evecs / (evals * beta + alpha)) @ evecs.T
        self.intercept_var_ = 1.0 / (beta * n)

    def _predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Xc = X - self.x_mean_
        mean = Xc @ self.coef_
        var = np.sum((Xc @ self.sigma_) * Xc, axis=1) + self.intercept_var_
        # predictive std: weight uncertainty plus the fitted noise
        return mean, np.sqrt(var + 1.0 / self.beta_)
