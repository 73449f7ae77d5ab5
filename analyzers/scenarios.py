"""The synthetic evaluation corpus: seeded, realistic runs with exact labels.

Every scenario is a run shaped like what a real trainer logs (TRL PPO, the old TRL PPOTrainer,
TRL GRPO, verl, OpenRLHF, stable-baselines3 PPO on classic control), with the tags those
trainers write (``shared/research/metrics.md`` §1.2-1.3), AR(1) noise with heavy-tailed
innovations, and explicit concept bindings (so the evaluation does not depend on the alias
table). A broken scenario says which pathology kinds it carries and the step at which each
began; a healthy scenario carries none, and several healthy ones reproduce the §1.4 traps that
make alarming-looking values normal (GRPO loss = beta*KL, on-policy clip fraction 0, NaN
explained variance when every return is equal, SB3's negated entropy, k1 KL noise below zero,
verl critic gradient norms in the hundreds at step 0, a 0/1 verifier whose batch max is always 1,
a learning rate annealed to 0 at the last step by design).

``synthetic_corpus(seed)`` returns the corpus; the same seed gives the same runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from .findings import KINDS
from .model import MetricBinding, Run
from .synthetic import make_run

# Healthy runs per framework flavour in the default corpus.
HEALTHY_PER_FLAVOUR = 8
# Broken onsets are drawn from this fraction range of the run so there is history before and
# signal after the change.
ONSET_FRACTION = (0.3, 0.6)


@dataclass(frozen=True)
class ExpectedFinding:
    """A pathology a labelled run carries, and the step at which it began."""

    kind: str
    onset_step: int
    # A weak label: real but too faint to detect soundly (see analyzers.evaluate); reported, not scored.
    weak: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}")


@dataclass
class LabelledRun:
    """One run of an evaluation corpus and what a correct analysis says about it.

    ``tolerated`` lists kinds that may legitimately co-fire on a broken run (a KL blow-up that
    is also a reward-hacking episode); they are neither credited nor counted against the rules.
    """

    name: str
    run: Run | None
    healthy: bool
    expected: list[ExpectedFinding] = field(default_factory=list)
    flavour: str = ""
    description: str = ""
    tolerated: tuple[str, ...] = ()
    load_error: str | None = None
    extra_runs: list[Run] = field(default_factory=list)  # more runs read from the same labelled path

    @property
    def length(self) -> int:
        """Span of the run in steps (the denominator of the onset error)."""
        if self.run is None or self.run.first_step is None:
            return 1
        return max(1, int(self.run.last_step) - int(self.run.first_step))


# ----------------------------------------------------------------------------- signal shapes


def _noise(rng: np.random.Generator, n: int, sd: float, phi: float = 0.5, df: float = 6.0) -> np.ndarray:
    """AR(1) noise with Student-t innovations (occasional outliers), stationary sd ``sd``."""
    innov = rng.standard_t(df, size=n) / np.sqrt(df / (df - 2))
    out = np.empty(n)
    acc = innov[0]
    scale = np.sqrt(1 - phi * phi)
    for i in range(n):
        acc = phi * acc + scale * innov[i] if i else innov[0]
        out[i] = acc
    return out * sd


def _lognoise(rng: np.random.Generator, n: int, sd_log: float, phi: float = 0.3) -> np.ndarray:
    """Multiplicative noise for positive quantities (approx KL, grad norm, clip fraction)."""
    return np.exp(_noise(rng, n, sd_log, phi=phi))


def _logistic(n: int, lo: float, hi: float, mid: float, width: float) -> np.ndarray:
    i = np.arange(n)
    return lo + (hi - lo) / (1 + np.exp(-(i - mid) / max(width, 1e-9)))


def _approach(n: int, start: float, end: float, tau: float) -> np.ndarray:
    """Exponential approach from ``start`` to ``end`` with time constant ``tau`` points."""
    return end + (start - end) * np.exp(-np.arange(n) / max(tau, 1e-9))


def _since(n: int, onset: int) -> np.ndarray:
    """Points elapsed since ``onset`` (0 before it)."""
    return np.clip(np.arange(n) - onset, 0, None).astype(float)


def _ramp(n: int, onset: int, duration: float) -> np.ndarray:
    """0 before ``onset``, rising linearly to 1 over ``duration`` points, then 1."""
    return np.clip(_since(n, onset) / max(duration, 1.0), 0.0, 1.0)


# ----------------------------------------------------------------------------- run spec


class _Spec:
    """A run under construction: arrays on the main logging steps plus sparse eval series."""

    def __init__(self, rng: np.random.Generator, flavour: str, framework: str, steps: np.ndarray) -> None:
        self.rng = rng
        self.flavour = flavour
        self.framework = framework
        self.steps = np.asarray(steps, dtype=np.int64)
        self.n = len(self.steps)
        self.values: dict[str, np.ndarray] = {}
        self.sparse: dict[str, pd.Series] = {}
        self.bindings: dict[str, MetricBinding] = {}
        self.behaviour: list[MetricBinding] = []
        self.eval_every = 0
        self.cap: float | None = None  # response-length cap (LLM flavours)
        self.env: str | None = None  # gymnasium env id (SB3)

    def add(self, tag: str, values: np.ndarray, concept: str | None = None, **binding: str) -> None:
        self.values[tag] = np.asarray(values, dtype=np.float64)
        if concept:
            self.bindings[concept] = MetricBinding(concept, tag, source="user", **binding)

    def add_eval(self, tag: str, dense_values: np.ndarray, every: int, concept: str | None = None) -> None:
        """An eval metric logged every ``every`` points (HF ``eval_steps``, SB3 ``eval_freq``)."""
        idx = np.arange(every - 1, self.n, every)
        self.eval_every = every
        self.sparse[tag] = pd.Series(np.asarray(dense_values, dtype=np.float64)[idx], index=self.steps[idx])
        self.behaviour.append(MetricBinding("behaviour", tag, source="user"))
        if concept:
            self.bindings[concept] = MetricBinding(concept, tag, source="user")

    def __getitem__(self, tag: str) -> np.ndarray:
        return self.values[tag]

    def __setitem__(self, tag: str, values: np.ndarray) -> None:
        self.values[tag] = np.asarray(values, dtype=np.float64)

    def has(self, tag: str) -> bool:
        return tag in self.values

    def step(self, index: int) -> int:
        return int(self.steps[index])

    def build(self, name: str) -> Run:
        series: dict[str, pd.Series] = {tag: pd.Series(v, index=self.steps) for tag, v in self.values.items()}
        series.update(self.sparse)
        run = make_run(series, name=name, framework=self.framework, metrics=self.bindings, resolve_aliases=False)
        run.behaviour = list(self.behaviour)
        return run


# ----------------------------------------------------------------------------- healthy flavours


def _trl_ppo(rng: np.random.Generator, n: int | None = None, with_eval: bool | None = None) -> _Spec:
    """TRL PPOTrainer (0.12+): sequence-summed k1 KL, fixed kl_coef 0.05, linear LR decay to 0."""
    n = n or int(rng.integers(150, 320))
    every = int(rng.choice([1, 5, 10]))
    spec = _Spec(rng, "trl-ppo", "trl-ppo", np.arange(1, n + 1) * every)
    score = _logistic(n, -0.4, rng.uniform(1.5, 2.5), n * rng.uniform(0.25, 0.45), n * 0.1) + _noise(rng, n, 0.2)
    kl_end = rng.uniform(3.0, 7.0)
    # k1 summed over tokens: unbiased but noisy, so the first logs can sit slightly below 0 (§1.4).
    kl = kl_end * (1 - np.exp(-np.arange(n) / (n * 0.3))) + _noise(rng, n, 0.25 + 0.04 * kl_end, phi=0.3)
    kl_coef = 0.05
    spec.add("objective/scores", score, "reward.score")
    spec.add("objective/kl", kl, "kl.ref", unit="nats/sequence", estimator="k1")
    spec.add("objective/non_score_reward", -kl_coef * kl)
    spec.add("objective/rlhf_reward", score - kl_coef * kl, "reward.total")
    spec.add("objective/entropy", _approach(n, 45, 32, n * 0.5) + _noise(rng, n, 1.5))
    spec.add("policy/entropy_avg", _approach(n, 1.15, rng.uniform(0.8, 0.95), n * 0.5) + _noise(rng, n, 0.02), "entropy")
    spec.add("policy/approxkl_avg", 0.004 * _lognoise(rng, n, 0.3), "kl.step", estimator="k2")
    spec.add("policy/clipfrac_avg", 0.03 * _lognoise(rng, n, 0.25), "clipfrac")
    spec.add("loss/policy_avg", -0.005 + _noise(rng, n, 0.01))
    spec.add("loss/value_avg", _approach(n, 0.45, 0.08, n * 0.2) * _lognoise(rng, n, 0.15), "value.loss")
    spec.add("val/clipfrac_avg", 0.06 * _lognoise(rng, n, 0.2))
    spec.add("val/ratio", 1.0 + _noise(rng, n, 0.003), "ratio.mean")
    spec.add("val/ratio_var", 0.002 * _lognoise(rng, n, 0.3), "ratio.var")
    spec.add("lr", 3e-6 * (1 - np.arange(n) / n), "lr")  # linear to 0 at the last step by design
    if with_eval if with_eval is not None else rng.random() < 0.5:
        gold = score * 0.8 + _noise(rng, n, 0.05)
        spec.add_eval("eval/gold_reward", gold, int(rng.choice([10, 20])))
    return spec


def _trl_ppo_old(rng: np.random.Generator, n: int | None = None) -> _Spec:
    """TRL <= 0.11 PPOTrainer: adaptive KL controller (target 6), whitened advantages, token lengths."""
    n = n or int(rng.integers(150, 320))
    spec = _Spec(rng, "trl-ppo-legacy", "trl-ppo-legacy", np.arange(n))
    score = _logistic(n, 0.1, rng.uniform(2.0, 3.0), n * rng.uniform(0.25, 0.45), n * 0.1) + _noise(rng, n, 0.2)
    kl = 6.0 * (1 - np.exp(-np.arange(n) / (n * 0.25))) + _noise(rng, n, 0.4, phi=0.3)
    kl_coef = 0.2 * np.exp(np.cumsum(np.clip((kl - 6.0) / 6.0, -0.2, 0.2)) * 0.02)  # adaptive, horizon-limited
    length = 40 + _noise(rng, n, 2.0)
    spec.add("ppo/mean_scores", score, "reward.score")
    spec.add("env/reward_std", _approach(n, 1.0, 0.8, n * 0.5) * _lognoise(rng, n, 0.08), "reward.score_std")
    spec.add("objective/kl", kl, "kl.ref", unit="nats/sequence", estimator="k1")
    spec.add("objective/kl_coef", kl_coef, "kl.coef")
    spec.add("objective/entropy", _approach(n, 40, 30, n * 0.5) + _noise(rng, n, 1.5))
    spec.add("ppo/policy/entropy", _approach(n, 1.1, 0.85, n * 0.5) + _noise(rng, n, 0.02), "entropy")
    spec.add("ppo/policy/approxkl", 0.02 * _lognoise(rng, n, 0.3), "kl.step", estimator="k2")
    spec.add("ppo/policy/policykl", 0.015 + _noise(rng, n, 0.01))
    spec.add("ppo/policy/clipfrac", 0.08 * _lognoise(rng, n, 0.25), "clipfrac")
    spec.add("ppo/policy/advantages_mean", _noise(rng, n, 0.01, phi=0.0), "adv.mean")
    spec.add("ppo/returns/mean", score * 0.8 + _noise(rng, n, 0.1), "return.mean")
    spec.add("ppo/val/vpred", score * 0.75 + _noise(rng, n, 0.1), "value.mean")
    spec.add("ppo/val/var_explained", _approach(n, 0.05, rng.uniform(0.4, 0.7), n * 0.15) + _noise(rng, n, 0.06), "value.ev")
    spec.add("ppo/loss/value", _approach(n, 0.3, 0.1, n * 0.2) * _lognoise(rng, n, 0.15), "value.loss")
    spec.add("ppo/loss/policy", -0.01 + _noise(rng, n, 0.01), "loss.policy")
    spec.add("ppo/loss/total", spec["ppo/loss/policy"] + 0.1 * spec["ppo/loss/value"], "loss.total")
    spec.add("tokens/responses_len_mean", length, "len.mean")
    spec.add("ppo/learning_rate", np.full(n, 1.41e-5), "lr")
    spec.cap = float(rng.choice([96, 128]))  # max_new_tokens; TRL-old logs no max length or truncation rate
    return spec


def _trl_grpo(rng: np.random.Generator, n: int | None = None, beta: float | None = None, cap: int | None = None) -> _Spec:
    """TRL GRPOTrainer: 0/1 accuracy reward, groups of 8, on-policy (clip ratios 0), loss = beta*KL."""
    n = n or int(rng.integers(150, 400))
    every = int(rng.choice([1, 1, 5, 10]))
    spec = _Spec(rng, "trl-grpo", "trl-grpo", np.arange(1, n + 1) * every)
    beta = beta if beta is not None else float(rng.choice([0.0, 0.04, 0.001]))
    cap = cap or int(rng.choice([256, 512, 1024]))
    acc = np.clip(_logistic(n, rng.uniform(0.1, 0.3), rng.uniform(0.55, 0.8), n * 0.35, n * 0.12) + _noise(rng, n, 0.03), 0, 1)
    spec.add("reward", acc, "reward.score")
    spec.add("rewards/accuracy_reward/mean", acc)
    spec.add("reward_std", np.sqrt(acc * (1 - acc)) * _lognoise(rng, n, 0.05), "reward.score_std")
    # Groups whose 8 answers all agree: common on very easy and very hard prompts.
    spec.add("frac_reward_zero_std", np.clip(0.3 + 0.4 * np.abs(acc - 0.5) + _noise(rng, n, 0.05), 0, 1), "grpo.frac_zero_std")
    length = cap * rng.uniform(0.3, 0.45) * (1 + 0.15 * _ramp(n, 0, n)) + _noise(rng, n, cap * 0.015)
    spec.add("completions/mean_length", length, "len.mean")
    # One long completion per batch reaches the cap now and then: max pinned at the cap is normal.
    spec.add("completions/max_length", np.minimum(cap, length * 2.3 + _noise(rng, n, cap * 0.08)), "len.max")
    spec.add("completions/min_length", np.maximum(5, length * 0.2 + _noise(rng, n, 5)))
    spec.add("completions/clipped_ratio", np.clip(0.01 * _lognoise(rng, n, 0.5), 0, 1), "len.clip_ratio")
    spec.add("entropy", _approach(n, rng.uniform(0.5, 0.7), rng.uniform(0.35, 0.45), n * 0.5) + _noise(rng, n, 0.015), "entropy")
    # On-policy (num_iterations=1): the ratio is identically 1, every clip ratio is 0 (§1.4).
    for side in ("region_mean", "low_mean", "high_mean"):
        spec.add(f"clip_ratio/{side}", np.zeros(n), "clipfrac" if side == "region_mean" else None)
    spec.add("grad_norm", 0.25 * _lognoise(rng, n, 0.3), "grad_norm")
    warm = max(1, int(n * rng.choice([0.0, 0.05])))
    lr = 1e-6 * np.minimum(1.0, (np.arange(n) + 1) / warm) * (1 - np.arange(n) / n)
    spec.add("learning_rate", lr, "lr")
    if beta > 0:
        kl = rng.uniform(0.03, 0.12) * (1 - np.exp(-np.arange(n) / (n * 0.4))) * _lognoise(rng, n, 0.1)
        spec.add("kl", kl, "kl.ref", unit="nats/token", estimator="k3")
        # The GRPO loss value equals beta*KL: starts at 0 and rises in a healthy run (§1.4).
        spec.add("loss", beta * kl + _noise(rng, n, beta * 0.002), "loss.total")
    else:
        spec.add("loss", _noise(rng, n, 1e-4), "loss.total")
    if rng.random() < 0.5:
        # vLLM rollouts with IS correction: ratio close to 1, small stable logp difference.
        spec.add("sampling/importance_sampling_ratio/mean", 1.0 + _noise(rng, n, 0.004), "ratio.is_mean")
        spec.add("sampling/importance_sampling_ratio/min", np.clip(0.6 + _noise(rng, n, 0.05), 0, 1))
        spec.add("sampling/sampling_logp_difference/mean", 0.012 * _lognoise(rng, n, 0.15), "mismatch.logp_diff")
        spec.add("sampling/sampling_logp_difference/max", 0.8 * _lognoise(rng, n, 0.3))
    if rng.random() < 0.7:
        spec.add_eval("eval_reward", np.clip(acc * 0.95 + _noise(rng, n, 0.02), 0, 1), int(rng.choice([10, 20, 25])))
    spec.cap = cap
    return spec


def _verl(rng: np.random.Generator, n: int | None = None, critic: bool | None = None) -> _Spec:
    """verl GRPO (0/1 verifier) or PPO with a critic; k1 ppo_kl, k3 kl_loss, length clip ratio."""
    n = n or int(rng.integers(150, 400))
    critic = bool(rng.random() < 0.4) if critic is None else critic
    spec = _Spec(rng, "verl", "verl", np.arange(1, n + 1))
    cap = int(rng.choice([1024, 2048]))
    acc = np.clip(_logistic(n, rng.uniform(0.2, 0.4), rng.uniform(0.65, 0.85), n * 0.3, n * 0.1) + _noise(rng, n, 0.02), 0, 1)
    spec.add("critic/score/mean", acc, "reward.score")
    spec.add("critic/score/max", np.ones(n), "reward.score_max")  # a 0/1 verifier: some sample always scores 1
    spec.add("critic/score/min", np.zeros(n), "reward.score_min")
    spec.add("critic/rewards/mean", acc - 0.001 * _ramp(n, 0, n), "reward.total")
    if critic:
        spec.add("critic/advantages/max", 4.5 * _lognoise(rng, n, 0.1), "adv.max")
        spec.add("critic/advantages/min", -4.2 * _lognoise(rng, n, 0.1), "adv.min")
        spec.add("critic/vf_loss", _approach(n, 15.0, 0.05, n * 0.05) * _lognoise(rng, n, 0.2), "value.loss")
        spec.add("critic/vf_explained_var", _approach(n, -0.3, rng.uniform(0.4, 0.7), n * 0.08) + _noise(rng, n, 0.04), "value.ev")
        # Critic norms in the hundreds early on are normal (verl quickstart: 1023 at step 0).
        spec.add("critic/grad_norm", _approach(n, 1000.0, 4.0, n * 0.03) * _lognoise(rng, n, 0.25), "critic.grad_norm")
        spec.add("critic/values/mean", acc * 0.9 + _noise(rng, n, 0.02), "value.mean")
        spec.add("critic/returns/mean", acc + _noise(rng, n, 0.02), "return.mean")
    else:
        g = 8  # GRPO group size: |A| <= (G-1)/sqrt(G) = 2.47 (Samuelson bound, metrics.md P5)
        bound = (g - 1) / np.sqrt(g)
        spec.add("critic/advantages/max", np.minimum(bound, 2.1 + np.abs(_noise(rng, n, 0.2))), "adv.max")
        spec.add("critic/advantages/min", -np.minimum(bound, 2.1 + np.abs(_noise(rng, n, 0.2))), "adv.min")
    spec.add("critic/advantages/mean", _noise(rng, n, 0.003, phi=0.0), "adv.mean")
    spec.add("actor/entropy", _approach(n, rng.uniform(0.45, 0.6), rng.uniform(0.3, 0.4), n * 0.4) + _noise(rng, n, 0.012), "entropy")
    spec.add("actor/pg_loss", _noise(rng, n, 0.01), "loss.policy")
    spec.add("actor/pg_clipfrac", 0.003 * _lognoise(rng, n, 0.3), "clipfrac")
    # k1 per-update KL is noise around 0 and can dip below it (§1.4).
    spec.add("actor/ppo_kl", _noise(rng, n, 2e-4, phi=0.0) + 5e-5, "kl.step", estimator="k1")
    spec.add("actor/kl_loss", rng.uniform(0.004, 0.02) * (1 - np.exp(-np.arange(n) / (n * 0.3))) * _lognoise(rng, n, 0.1),
             "kl.ref", unit="nats/token", estimator="k3")
    spec.add("actor/grad_norm", 0.3 * _lognoise(rng, n, 0.3), "grad_norm")
    spec.add("actor/lr", np.full(n, 1e-6), "lr")
    length = cap * rng.uniform(0.25, 0.4) * (1 + 0.2 * _ramp(n, 0, n)) + _noise(rng, n, cap * 0.01)
    spec.add("response_length/mean", length, "len.mean")
    spec.add("response_length/max", np.full(n, float(cap)), "len.max")  # some response always runs to the cap
    spec.add("response_length/clip_ratio", np.clip(0.015 * _lognoise(rng, n, 0.4), 0, 1), "len.clip_ratio")
    spec.add("training/rollout_probs_diff_mean", 0.003 * _lognoise(rng, n, 0.1), "mismatch.logp_diff")
    spec.add("training/rollout_probs_diff_max", 0.4 * _lognoise(rng, n, 0.3))
    spec.add_eval("val-core/gsm8k/reward/mean@1", np.clip(acc * 0.97 + _noise(rng, n, 0.015), 0, 1), int(rng.choice([5, 10, 20])))
    spec.cap = cap
    return spec


def _openrlhf(rng: np.random.Generator, n: int | None = None) -> _Spec:
    """OpenRLHF PPO with vLLM rollouts: k1 token-mean KL, warm-up then cosine LR to a 10% floor."""
    n = n or int(rng.integers(150, 320))
    spec = _Spec(rng, "openrlhf", "openrlhf", np.arange(1, n + 1))
    cap = 1024
    score = _logistic(n, -0.8, rng.uniform(1.0, 1.8), n * 0.35, n * 0.12) + _noise(rng, n, 0.12)
    kl = 0.02 * (1 - np.exp(-np.arange(n) / (n * 0.3))) + _noise(rng, n, 0.002, phi=0.2)
    spec.add("train/reward", score, "reward.score")
    spec.add("train/return", score - 0.01 * kl, "reward.total")
    spec.add("train/kl", kl, "kl.ref", unit="nats/token", estimator="k1")
    spec.add("train/ppo_kl", _noise(rng, n, 1e-4, phi=0.0) + 2e-4, "kl.step", estimator="k1")
    spec.add("train/ppo_clip_ratio", 0.01 * _lognoise(rng, n, 0.3), "clipfrac")
    spec.add("train/policy_loss", _noise(rng, n, 0.02), "loss.policy")
    spec.add("train/critic_loss", _approach(n, 0.8, 0.1, n * 0.1) * _lognoise(rng, n, 0.2), "value.loss")
    spec.add("train/response_length", cap * 0.3 + _noise(rng, n, 10), "len.mean")
    spec.add("train/actor_grad_norm", 0.5 * _lognoise(rng, n, 0.3), "grad_norm")
    warm = max(2, int(0.05 * n))
    i = np.arange(n)
    lr = np.where(i < warm, (i + 1) / warm, 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * (i - warm) / max(1, n - warm))))
    spec.add("train/actor_lr", 5e-7 * lr, "lr")
    spec.add("train/vllm_kl", 0.001 * _lognoise(rng, n, 0.15), "mismatch.logp_diff")
    if rng.random() < 0.6:
        spec.add_eval("eval/eval_gsm8k_pass1", _logistic(n, 0.3, 0.55, n * 0.35, n * 0.12) + _noise(rng, n, 0.015), 10)
    spec.cap = cap
    return spec


_SB3_ENVS = ("CartPole-v1", "Acrobot-v1", "Pendulum-v1", "FrozenLake-v1")


def _sb3(rng: np.random.Generator, env: str | None = None, n: int | None = None) -> _Spec:
    """stable-baselines3 PPO on classic control: steps are timesteps, entropy logged negated."""
    env = env or str(rng.choice(_SB3_ENVS))
    n = n or int(rng.integers(60, 200))
    n_steps = int(rng.choice([512, 1024, 2048]))
    spec = _Spec(rng, "stable-baselines3", "stable-baselines3", np.arange(1, n + 1) * n_steps)
    spec.env = env
    mid, width = n * rng.uniform(0.2, 0.4), n * 0.08
    if env == "CartPole-v1":
        ret = np.minimum(500, _logistic(n, 20, 500, mid, width) + _noise(rng, n, 15))
        entropy = _approach(n, 0.69, 0.55, n * 0.6)
        # Unnormalised returns grow with episode length, so the value loss rises with them.
        value_loss = (5 + 40 * _logistic(n, 0, 1, mid, width) * _approach(n, 1.0, 0.4, n)) * _lognoise(rng, n, 0.2)
    elif env == "Acrobot-v1":
        ret = _logistic(n, -500, -85, mid, width) + _noise(rng, n, 6)
        entropy = _approach(n, 1.09, 0.65, n * 0.5)
        value_loss = _approach(n, 30, 4, n * 0.3) * _lognoise(rng, n, 0.2)
    elif env == "Pendulum-v1":
        ret = _logistic(n, -1300, -200, mid, width) + _noise(rng, n, 40)
        # Differential entropy of a Gaussian policy goes below 0 as the std shrinks; SB3 then
        # logs entropy_loss > 0. Not a bug (SB3 #2004, #661).
        entropy = 1.42 + np.log(_approach(n, 1.0, rng.uniform(0.18, 0.35), n * 0.5))
        spec.add("train/std", np.exp(entropy - 1.42))
        value_loss = _approach(n, 900, 30, n * 0.3) * _lognoise(rng, n, 0.25)
    else:  # sparse 0/1 reward: every return is 0 until the agent first reaches the goal
        first_success = int(n * rng.uniform(0.15, 0.3))
        ret = np.clip(_logistic(n, 0, 0.7, first_success + n * 0.15, n * 0.06) + _noise(rng, n, 0.02), 0, 1)
        ret[:first_success] = 0.0
        entropy = _approach(n, 1.386, 0.9, n * 0.5)
        value_loss = np.where(np.arange(n) < first_success, 0.0, 0.01 * _lognoise(rng, n, 0.3))
    spec.add("rollout/ep_rew_mean", ret, "rl.ep_return")
    spec.add("rollout/ep_len_mean", np.abs(ret) if env == "CartPole-v1" else 200 + _noise(rng, n, 5), "rl.ep_len")
    spec.add("train/entropy_loss", -(entropy + _noise(rng, n, 0.01)), "entropy", transform="negate")
    spec.add("train/approx_kl", 0.008 * _lognoise(rng, n, 0.35), "kl.step", estimator="k3")
    spec.add("train/clip_fraction", np.clip((0.2 if env == "Pendulum-v1" else 0.08) * _lognoise(rng, n, 0.25), 0, 1), "clipfrac")
    spec.add("train/clip_range", np.full(n, 0.2))
    ev = _approach(n, -0.05, rng.uniform(0.75, 0.95), n * 0.08) + _noise(rng, n, 0.03)
    if env == "FrozenLake-v1":
        # Var[returns] = 0 while every reward is 0: SB3 logs NaN explained variance (§1.4).
        ev[: first_success] = np.nan
    spec.add("train/explained_variance", ev, "value.ev")
    spec.add("train/value_loss", value_loss, "value.loss")
    spec.add("train/policy_gradient_loss", -0.01 + _noise(rng, n, 0.004), "loss.policy")
    spec.add("train/loss", spec["train/policy_gradient_loss"] + 0.5 * value_loss * 0.1, "loss.total")
    linear = rng.random() < 0.5
    spec.add("train/learning_rate", 3e-4 * ((1 - np.arange(n) / n) if linear else np.ones(n)), "lr")
    spec.add_eval("eval/mean_reward", ret + _noise(rng, n, abs(float(np.nanmean(ret))) * 0.03 + 1e-3), 5, "eval.reward")
    return spec


_FLAVOURS: dict[str, Callable[..., _Spec]] = {
    "trl-ppo": _trl_ppo,
    "trl-ppo-legacy": _trl_ppo_old,
    "trl-grpo": _trl_grpo,
    "verl": _verl,
    "openrlhf": _openrlhf,
    "stable-baselines3": _sb3,
}


# ----------------------------------------------------------------------------- broken variants
# Each takes a healthy spec and the onset index, modifies the arrays from the onset on, and
# returns the kinds it injected (onset index per kind) and the kinds that may co-fire.


def _onset(spec: _Spec) -> int:
    lo, hi = ONSET_FRACTION
    return int(spec.rng.integers(int(spec.n * lo), int(spec.n * hi)))


def _kl_blowup(spec: _Spec, k: int) -> None:
    """KL to the reference runs away (exponential growth, 5-20x over a third of the run)."""
    n, rng = spec.n, spec.rng
    b = spec.bindings["kl.ref"]
    tag = b.tag
    base = max(float(np.nanmedian(spec[tag][max(0, k - 20):k])), 1e-3)
    # A runaway ends well past the usual budgets: 10 nats/sequence (TRL FAQ) or ~0.5 nats/token.
    budget = 10.0 if b.unit == "nats/sequence" else 0.5
    growth = max(rng.uniform(6.0, 20.0), rng.uniform(1.8, 4.0) * budget / base)
    spec[tag] = spec[tag] + base * (np.exp(np.log(growth) * _ramp(n, k, n * 0.3)) - 1) * _lognoise(rng, n, 0.05)
    if "kl.coef" in spec.bindings:  # an adaptive controller fights back: beta rises with KL
        ctag = spec.bindings["kl.coef"].tag
        spec[ctag] = spec[ctag] * np.exp(1.5 * _ramp(n, k, n * 0.3))


def _negative_kl(spec: _Spec, k: int) -> None:
    """Persistently negative reference KL (k1), or any negative value of a k3 key."""
    n, rng = spec.n, spec.rng
    b = spec.bindings["kl.ref"]
    scale = max(float(np.nanmedian(np.abs(spec[b.tag]))), 1e-3)
    level = -rng.uniform(0.5, 1.0) * scale if b.estimator in ("k2", "k3") else -rng.uniform(0.6, 1.2) * max(scale, 2.0 if b.unit == "nats/sequence" else 0.01)
    after = np.arange(n) >= k
    spec[b.tag] = np.where(after, level + _noise(rng, n, abs(level) * 0.15), spec[b.tag])


def _policy_step(spec: _Spec, k: int) -> None:
    """Per-update KL and clip fraction jump 10-20x (too many epochs / LR too high / stale batch)."""
    n, rng = spec.n, spec.rng
    jump = np.where(np.arange(n) >= k, 1.0, 0.0)
    ktag = spec.bindings["kl.step"].tag
    factor = rng.uniform(12, 25)
    ref = max(float(np.nanmedian(np.abs(spec[ktag][:k]))), 2e-3)
    spec[ktag] = spec[ktag] + jump * ref * factor * _lognoise(rng, n, 0.2)
    ctag = spec.bindings["clipfrac"].tag
    cf = max(float(np.nanmedian(spec[ctag][:k])), 0.003)
    spec[ctag] = np.clip(spec[ctag] + jump * min(0.5, cf * rng.uniform(6, 10)) * _lognoise(rng, n, 0.15), 0, 1)
    if "ratio.mean" in spec.bindings:
        rt = spec.bindings["ratio.mean"].tag
        spec[rt] = spec[rt] + jump * rng.uniform(0.3, 1.0) * _lognoise(rng, n, 0.2)
        vt = spec.bindings["ratio.var"].tag
        spec[vt] = spec[vt] * (1 + jump * 50)


def _advantage_spike(spec: _Spec, k: int) -> None:
    """Advantage spread jumps (unnormalised heavy-tailed rewards), or a non-zero whitened mean."""
    n, rng = spec.n, spec.rng
    after = np.arange(n) >= k
    if "adv.max" in spec.bindings:
        for concept, sign in (("adv.max", 1), ("adv.min", -1)):
            tag = spec.bindings[concept].tag
            spec[tag] = np.where(after, sign * rng.uniform(5, 9) * np.abs(np.nanmedian(spec[tag][:k])) * _lognoise(rng, n, 0.2), spec[tag])
        if "reward.score_max" in spec.bindings:
            tag = spec.bindings["reward.score_max"].tag
            spec[tag] = np.where(after, rng.uniform(8, 30) * _lognoise(rng, n, 0.3), spec[tag])
    elif "adv.mean" in spec.bindings:
        tag = spec.bindings["adv.mean"].tag
        spec[tag] = np.where(after, rng.choice([-1, 1]) * rng.uniform(0.4, 0.8) + _noise(rng, n, 0.05), spec[tag])
    else:
        tag = spec.bindings["reward.score_std"].tag
        spec[tag] = np.where(after, spec[tag] * rng.uniform(6, 12) * _lognoise(rng, n, 0.2), spec[tag])


def _value_failure(spec: _Spec, k: int) -> None:
    """Explained variance falls below 0 and stays there; the value loss explodes."""
    n, rng = spec.n, spec.rng
    r = _ramp(n, k, max(3, n * 0.03))
    if "value.ev" in spec.bindings:
        tag = spec.bindings["value.ev"].tag
        floor = -rng.uniform(0.3, 2.0)
        spec[tag] = spec[tag] * (1 - r) + r * (floor + _noise(rng, n, abs(floor) * 0.2))
    tag = spec.bindings["value.loss"].tag
    spec[tag] = spec[tag] * np.exp(np.log(rng.uniform(20, 100)) * r)


def _entropy_collapse(spec: _Spec, k: int) -> None:
    """Entropy falls to a few percent of its level within a tenth of the run."""
    n, rng = spec.n, spec.rng
    b = spec.bindings["entropy"]
    ent = -spec[b.tag] if b.transform == "negate" else spec[b.tag]
    keep = np.exp(-_since(n, k) / (n * rng.uniform(0.02, 0.05)))
    ent = ent * (0.03 + 0.97 * keep) + (1 - keep) * _noise(rng, n, 0.002)
    spec[b.tag] = -ent if b.transform == "negate" else ent


def _entropy_explosion(spec: _Spec, k: int) -> None:
    """Entropy rises to several times its level (gibberish / exploding policy std)."""
    n, rng = spec.n, spec.rng
    b = spec.bindings["entropy"]
    ent = -spec[b.tag] if b.transform == "negate" else spec[b.tag]
    level = float(np.nanmedian(np.abs(ent[:k]))) or 1.0
    ent = ent + level * rng.uniform(3, 7) * _ramp(n, k, n * rng.uniform(0.03, 0.1)) * _lognoise(rng, n, 0.05)
    spec[b.tag] = -ent if b.transform == "negate" else ent


def _reward_hacking_eval(spec: _Spec, k: int) -> None:
    """The optimised reward keeps climbing while the eval metric peaks at the onset and falls.

    ``k`` must be an eval point: the eval curve is held at its level there and declines after it,
    so the labelled onset is the observable eval peak (Gao et al.'s gold-reward maximum).
    """
    n, rng = spec.n, spec.rng
    rtag = (spec.bindings.get("reward.score") or spec.bindings["rl.ep_return"]).tag
    r = spec[rtag]
    span = float(np.nanpercentile(r, 95) - np.nanpercentile(r, 5)) or 1.0
    after = _since(n, k) / max(1, n - k)
    spec[rtag] = r + span * 0.4 * after  # the proxy keeps rising
    etag = spec.behaviour[0].tag
    ev = spec.sparse[etag]
    values = ev.to_numpy()
    trend = pd.Series(values).rolling(3, center=True, min_periods=1).median().to_numpy()
    pos = int(np.searchsorted(ev.index.to_numpy(), spec.step(k)))
    esp = float(np.nanpercentile(values, 95) - np.nanpercentile(values, 5)) or 1.0
    eval_after = np.searchsorted(spec.steps, ev.index.to_numpy())
    held = trend[pos] + (values - trend) - esp * rng.uniform(0.6, 1.0) * after[eval_after]
    spec.sparse[etag] = pd.Series(np.where(np.arange(len(values)) >= pos, held, values), index=ev.index)
    if "kl.ref" in spec.bindings:
        tag = spec.bindings["kl.ref"].tag
        spec[tag] = spec[tag] * (1 + 1.5 * after)


def _reward_hacking_no_eval(spec: _Spec, k: int) -> None:
    """No eval stream: reward accelerates together with length up, entropy down and KL up."""
    n, rng = spec.n, spec.rng
    after = _ramp(n, k, n - k)
    rtag = spec.bindings["reward.score"].tag
    span = float(np.nanpercentile(spec[rtag], 95) - np.nanpercentile(spec[rtag], 5)) or 1.0
    spec[rtag] = spec[rtag] + span * 0.8 * after
    ltag = spec.bindings["len.mean"].tag
    spec[ltag] = spec[ltag] * (1 + rng.uniform(0.8, 1.5) * after)
    etag = spec.bindings["entropy"].tag
    spec[etag] = spec[etag] * (1 - 0.5 * after)
    ktag = spec.bindings["kl.ref"].tag
    spec[ktag] = spec[ktag] + np.nanmedian(np.abs(spec[ktag][:k])) * 2.5 * after


def _length_exploitation(spec: _Spec, k: int) -> None:
    """Mean response length climbs to the cap, truncation rises, reward rises with it."""
    n, rng = spec.n, spec.rng
    cap = float(spec.cap or np.nanmax(spec[spec.bindings["len.mean"].tag]) * 1.6)
    r = _ramp(n, k, n * rng.uniform(0.2, 0.35))
    ltag = spec.bindings["len.mean"].tag
    target = cap * rng.uniform(0.9, 0.97)
    spec[ltag] = np.minimum(cap, spec[ltag] * (1 - r) + r * (target + _noise(rng, n, cap * 0.01)))
    if "len.max" in spec.bindings:
        spec[spec.bindings["len.max"].tag] = np.full(n, cap)
    if "len.clip_ratio" in spec.bindings:
        ctag = spec.bindings["len.clip_ratio"].tag
        spec[ctag] = np.clip(spec[ctag] + r * rng.uniform(0.4, 0.7) + _noise(rng, n, 0.02) * r, 0, 1)
    rtag = spec.bindings["reward.score"].tag
    span = float(np.nanpercentile(spec[rtag], 95) - np.nanpercentile(spec[rtag], 5)) or 1.0
    spec[rtag] = spec[rtag] + span * 0.3 * r


def _reward_saturation(spec: _Spec, k: int) -> None:
    """The score is pinned at its ceiling and its spread collapses."""
    n, rng = spec.n, spec.rng
    rtag = spec.bindings["reward.score"].tag
    r = _ramp(n, k, max(3, n * 0.05))
    ceiling = 1.0 if spec.flavour in ("trl-grpo", "verl") else float(np.nanmax(spec[rtag][:k])) + 0.5
    spec[rtag] = spec[rtag] * (1 - r) + r * (ceiling - np.abs(_noise(rng, n, ceiling * 0.001 + 1e-4)))
    if "reward.score_std" in spec.bindings:
        stag = spec.bindings["reward.score_std"].tag
        spec[stag] = spec[stag] * (1 - r) + r * np.abs(_noise(rng, n, 0.002))
    if "grpo.frac_zero_std" in spec.bindings:
        ftag = spec.bindings["grpo.frac_zero_std"].tag
        spec[ftag] = spec[ftag] * (1 - r) + r * np.clip(0.98 + _noise(rng, n, 0.01), 0, 1)
    if "reward.score_min" in spec.bindings:
        spec[spec.bindings["reward.score_min"].tag] = spec[spec.bindings["reward.score_min"].tag] * (1 - r) + r * ceiling


def _zero_signal(spec: _Spec, k: int) -> None:
    """Every group ties: frac_reward_zero_std -> 1, advantages 0, gradient norm 0."""
    n, rng = spec.n, spec.rng
    after = np.arange(n) >= k
    rtag = spec.bindings["reward.score"].tag
    spec[rtag] = np.where(after, 0.0, spec[rtag])
    if "grpo.frac_zero_std" in spec.bindings:
        spec[spec.bindings["grpo.frac_zero_std"].tag] = np.where(after, 1.0, spec[spec.bindings["grpo.frac_zero_std"].tag])
    if "reward.score_std" in spec.bindings:
        # TRL's reward_std is over the whole batch; keep it 0 here (all answers wrong).
        spec[spec.bindings["reward.score_std"].tag] = np.where(after, 0.0, spec[spec.bindings["reward.score_std"].tag])
    for concept in ("adv.max", "adv.min", "adv.mean"):
        if concept in spec.bindings:
            spec[spec.bindings[concept].tag] = np.where(after, 0.0, spec[spec.bindings[concept].tag])
    if "reward.score_max" in spec.bindings:
        spec[spec.bindings["reward.score_max"].tag] = np.where(after, 0.0, spec[spec.bindings["reward.score_max"].tag])
    spec[spec.bindings["grad_norm"].tag] = np.where(after, 0.0, spec[spec.bindings["grad_norm"].tag])
    if "loss.total" in spec.bindings:
        spec[spec.bindings["loss.total"].tag] = np.where(after, 0.0, spec[spec.bindings["loss.total"].tag])
    if "clipfrac" in spec.bindings:
        spec[spec.bindings["clipfrac"].tag] = np.where(after, 0.0, spec[spec.bindings["clipfrac"].tag])
    del rng


def _non_finite(spec: _Spec, k: int) -> None:
    """Gradient norm climbs for a few steps, then the loss/KL/grad keys turn NaN and stay NaN."""
    n, rng = spec.n, spec.rng
    pre = max(0, k - 3)
    gtag = spec.bindings["grad_norm"].tag if "grad_norm" in spec.bindings else spec.bindings["value.loss"].tag
    spec[gtag][pre:k] *= np.array([5.0, 20.0, 80.0])[3 - (k - pre):]  # what spiked before
    keys = [b.tag for c, b in spec.bindings.items() if c in ("kl.ref", "kl.step", "loss.policy", "loss.total", "grad_norm", "entropy", "value.loss")]
    first = keys[: max(1, len(keys) // 2)]
    for i, tag in enumerate(keys):
        start = k if tag in first else k + 1
        v = spec[tag].copy()
        v[start:] = np.nan
        if i == 0:
            v[k] = np.inf
        spec[tag] = v
    rtag = (spec.bindings.get("reward.score") or spec.bindings["rl.ep_return"]).tag
    spec[rtag] = np.where(np.arange(n) > k, np.nanmin(spec[rtag][:k]) + _noise(rng, n, 0.01), spec[rtag])


def _gradient_spike(spec: _Spec, k: int) -> None:
    """The policy gradient norm jumps 20-100x its rolling median and stays high for a while."""
    n, rng = spec.n, spec.rng
    tag = spec.bindings["grad_norm"].tag
    burst = int(max(3, n * rng.uniform(0.03, 0.1)))
    mult = np.ones(n)
    mult[k:k + burst] = rng.uniform(20, 100) * _lognoise(rng, burst, 0.3)[: len(mult[k:k + burst])]
    spec[tag] = spec[tag] * mult


def _lr_early_zero(spec: _Spec, k: int) -> None:
    """The schedule was sized for fewer steps: the LR reaches 0 at the onset and stays there."""
    n = spec.n
    tag = spec.bindings["lr"].tag
    peak = float(np.nanmax(spec[tag]))
    i = np.arange(n)
    spec[tag] = np.where(i < k, peak * (1 - i / k), 0.0)


def _lr_step_change(spec: _Spec, k: int) -> None:
    """The LR jumps 10x (a resumed run with the wrong config) and the update size jumps with it."""
    n, rng = spec.n, spec.rng
    tag = spec.bindings["lr"].tag
    spec[tag] = np.where(np.arange(n) >= k, spec[tag] * 10, spec[tag])
    ktag = spec.bindings["kl.step"].tag
    ref = max(float(np.nanmedian(np.abs(spec[ktag][:k]))), 2e-3)
    spec[ktag] = spec[ktag] + (np.arange(n) >= k) * ref * rng.uniform(8, 15) * _lognoise(rng, n, 0.2)
    ctag = spec.bindings["clipfrac"].tag
    spec[ctag] = np.clip(spec[ctag] * np.where(np.arange(n) >= k, rng.uniform(3, 5), 1.0), 0, 1)


def _lr_no_warmup(spec: _Spec, k: int) -> None:
    """No warm-up: the LR starts at its peak and the first updates spike KL and clipping."""
    n, rng = spec.n, spec.rng
    tag = spec.bindings["lr"].tag
    spec[tag] = np.full(n, float(np.nanmax(spec[tag])))
    decay = np.exp(-np.arange(n) / max(2, n * 0.03))
    ktag = spec.bindings["kl.step"].tag
    ref = max(float(np.nanmedian(np.abs(spec[ktag]))), 2e-3)
    spec[ktag] = spec[ktag] + ref * rng.uniform(15, 30) * decay
    ctag = spec.bindings["clipfrac"].tag
    spec[ctag] = np.clip(spec[ctag] + rng.uniform(0.2, 0.4) * decay, 0, 1)
    del k


def _mismatch(spec: _Spec, k: int) -> None:
    """Training and rollout engines drift apart: logp difference grows, IS ratio leaves 1."""
    n, rng = spec.n, spec.rng
    r = _ramp(n, k, n * rng.uniform(0.15, 0.3))
    if "ratio.is_mean" not in spec.bindings and spec.flavour == "trl-grpo":
        spec.add("sampling/importance_sampling_ratio/mean", 1.0 + _noise(rng, n, 0.004), "ratio.is_mean")
        spec.add("sampling/sampling_logp_difference/mean", 0.012 * _lognoise(rng, n, 0.15), "mismatch.logp_diff")
    if "ratio.is_mean" in spec.bindings:
        tag = spec.bindings["ratio.is_mean"].tag
        spec[tag] = spec[tag] - r * rng.uniform(0.3, 0.5) * _lognoise(rng, n, 0.05)
    tag = spec.bindings["mismatch.logp_diff"].tag
    base = float(np.nanmedian(spec[tag][:k]))
    spec[tag] = spec[tag] + base * rng.uniform(15, 40) * r * _lognoise(rng, n, 0.1)


@dataclass(frozen=True)
class _Variant:
    kind: str
    flavour: str
    inject: Callable[[_Spec, int], None]
    tolerated: tuple[str, ...] = ()
    options: tuple[tuple[str, object], ...] = ()
    onset_at_start: bool = False
    needs_eval: bool = False
    note: str = ""


_COMMON_COFIRE = ("reward_hacking", "length_exploitation", "kl_blowup", "entropy_collapse", "policy_step_too_large")

VARIANTS: tuple[_Variant, ...] = (
    _Variant("kl_blowup", "trl-ppo", _kl_blowup, ("reward_hacking",), note="sequence-summed k1 KL runs away"),
    _Variant("kl_blowup", "trl-ppo-legacy", _kl_blowup, ("reward_hacking",), note="adaptive kl_coef rises with the KL"),
    _Variant("kl_blowup", "trl-grpo", _kl_blowup, ("reward_hacking",), options=(("beta", 0.04),), note="GRPO k3 token KL runs away"),
    _Variant("kl_blowup", "verl", _kl_blowup, ("reward_hacking",), note="verl kl_loss runs away"),
    _Variant("negative_kl", "trl-ppo-legacy", _negative_kl, note="generation kwargs bug: k1 KL persistently negative"),
    _Variant("negative_kl", "trl-ppo", _negative_kl, note="k1 KL persistently negative"),
    _Variant("negative_kl", "trl-grpo", _negative_kl, options=(("beta", 0.04),), note="a k3 key below 0"),
    _Variant("negative_kl", "openrlhf", _negative_kl, note="OpenRLHF k1 KL persistently negative"),
    _Variant("policy_step_too_large", "stable-baselines3", _policy_step, note="approx_kl and clip_fraction jump"),
    _Variant("policy_step_too_large", "trl-ppo", _policy_step, note="approxkl, clipfrac and ratio jump"),
    _Variant("policy_step_too_large", "verl", _policy_step, note="off-policy epochs: ppo_kl and pg_clipfrac jump"),
    _Variant("policy_step_too_large", "trl-ppo-legacy", _policy_step),
    _Variant("advantage_variance_spike", "verl", _advantage_spike, options=(("critic", False),), note="GRPO advantages beyond the group bound"),
    _Variant("advantage_variance_spike", "verl", _advantage_spike, options=(("critic", True),), note="GAE advantages jump with reward outliers"),
    _Variant("advantage_variance_spike", "trl-ppo-legacy", _advantage_spike, note="whitened advantage mean leaves 0"),
    _Variant("advantage_variance_spike", "trl-grpo", _advantage_spike, note="reward score spread jumps"),
    _Variant("value_failure", "stable-baselines3", _value_failure, options=(("env", "CartPole-v1"),)),
    _Variant("value_failure", "stable-baselines3", _value_failure, options=(("env", "Pendulum-v1"),)),
    _Variant("value_failure", "verl", _value_failure, options=(("critic", True),)),
    _Variant("value_failure", "trl-ppo-legacy", _value_failure),
    _Variant("entropy_collapse", "trl-grpo", _entropy_collapse, ("zero_learning_signal",)),
    _Variant("entropy_collapse", "stable-baselines3", _entropy_collapse, options=(("env", "Acrobot-v1"),)),
    _Variant("entropy_collapse", "verl", _entropy_collapse),
    _Variant("entropy_collapse", "trl-ppo", _entropy_collapse),
    _Variant("entropy_explosion", "trl-grpo", _entropy_explosion),
    _Variant("entropy_explosion", "verl", _entropy_explosion),
    _Variant("entropy_explosion", "trl-ppo", _entropy_explosion),
    _Variant("entropy_explosion", "stable-baselines3", _entropy_explosion, options=(("env", "Pendulum-v1"),)),
    _Variant("reward_hacking", "trl-grpo", _reward_hacking_eval, _COMMON_COFIRE, needs_eval=True, note="eval accuracy falls while reward rises"),
    _Variant("reward_hacking", "verl", _reward_hacking_eval, _COMMON_COFIRE, needs_eval=True, note="val-core falls while score rises"),
    _Variant("reward_hacking", "trl-ppo", _reward_hacking_eval, _COMMON_COFIRE, options=(("with_eval", True),), needs_eval=True,
             note="gold reward falls while the proxy score rises (Gao et al. 2022)"),
    _Variant("reward_hacking", "stable-baselines3", _reward_hacking_eval, _COMMON_COFIRE, options=(("env", "CartPole-v1"),), needs_eval=True,
             note="a gameable reward wrapper: shaped return up, true eval return down"),
    _Variant("reward_hacking", "trl-ppo-legacy", _reward_hacking_no_eval, _COMMON_COFIRE,
             note="no eval: reward, length and KL up, entropy down"),
    _Variant("length_exploitation", "trl-grpo", _length_exploitation, ("reward_hacking",)),
    _Variant("length_exploitation", "verl", _length_exploitation, ("reward_hacking",)),
    _Variant("length_exploitation", "openrlhf", _length_exploitation, ("reward_hacking",)),
    _Variant("length_exploitation", "trl-ppo-legacy", _length_exploitation, ("reward_hacking",)),
    _Variant("reward_saturation", "trl-grpo", _reward_saturation, ("zero_learning_signal",)),
    _Variant("reward_saturation", "verl", _reward_saturation, ("zero_learning_signal",)),
    _Variant("reward_saturation", "trl-ppo-legacy", _reward_saturation),
    _Variant("reward_saturation", "trl-ppo", _reward_saturation),
    _Variant("zero_learning_signal", "trl-grpo", _zero_signal, ("reward_saturation",), note="every group ties at 0 (trl#3857)"),
    _Variant("zero_learning_signal", "verl", _zero_signal, ("reward_saturation",), note="all scores equal, advantages 0"),
    _Variant("zero_learning_signal", "trl-grpo", _zero_signal, ("reward_saturation",), options=(("beta", 0.04),)),
    _Variant("non_finite", "verl", _non_finite, ("gradient_spike",), note="kl_loss/pg_loss/grad_norm turn NaN (verl#721)"),
    _Variant("non_finite", "stable-baselines3", _non_finite, ("gradient_spike", "value_failure")),
    _Variant("non_finite", "trl-grpo", _non_finite, ("gradient_spike",)),
    _Variant("non_finite", "openrlhf", _non_finite, ("gradient_spike",), note="policy loss NaN, reward to 0 (OpenRLHF#1120)"),
    _Variant("gradient_spike", "trl-grpo", _gradient_spike),
    _Variant("gradient_spike", "verl", _gradient_spike),
    _Variant("gradient_spike", "openrlhf", _gradient_spike),
    _Variant("lr_schedule", "trl-grpo", _lr_early_zero, note="LR reaches 0 long before the last step"),
    _Variant("lr_schedule", "openrlhf", _lr_early_zero, note="LR reaches 0 long before the last step"),
    _Variant("lr_schedule", "stable-baselines3", _lr_step_change, ("policy_step_too_large",), note="LR steps up 10x with a KL jump"),
    _Variant("lr_schedule", "trl-ppo", _lr_no_warmup, ("policy_step_too_large",), onset_at_start=True,
             note="no warm-up, KL and clipping spike in the first updates"),
    _Variant("train_inference_mismatch", "trl-grpo", _mismatch, note="IS ratio leaves 1, logp difference grows"),
    _Variant("train_inference_mismatch", "verl", _mismatch, note="rollout_probs_diff grows"),
    _Variant("train_inference_mismatch", "openrlhf", _mismatch, note="vllm_kl grows"),
)


def _healthy_scenarios(seed: int, per_flavour: int) -> list[LabelledRun]:
    out: list[LabelledRun] = []
    for f_index, (flavour, make) in enumerate(_FLAVOURS.items()):
        for i in range(per_flavour):
            rng = np.random.default_rng([seed, 1, f_index, i])
            if flavour == "stable-baselines3":
                spec = make(rng, env=_SB3_ENVS[i % len(_SB3_ENVS)])
                label = f"healthy/{flavour}/{spec.env}/{i}"
            elif flavour == "verl":
                spec = make(rng, critic=bool(i % 2))
                label = f"healthy/{flavour}/{'ppo' if i % 2 else 'grpo'}/{i}"
            elif flavour == "trl-grpo":
                spec = make(rng, beta=(0.0, 0.04)[i % 2])
                label = f"healthy/{flavour}/beta{(0.0, 0.04)[i % 2]}/{i}"
            else:
                spec = make(rng)
                label = f"healthy/{flavour}/{i}"
            out.append(LabelledRun(label, spec.build(label), True, [], flavour, "healthy run with the §1.4 traps of its trainer"))
    return out


def _broken_scenarios(seed: int, repeats: int) -> list[LabelledRun]:
    out: list[LabelledRun] = []
    for v_index, variant in enumerate(VARIANTS):
        for rep in range(repeats):
            rng = np.random.default_rng([seed, 2, v_index, rep])
            options = dict(variant.options)
            if variant.needs_eval and variant.flavour == "trl-grpo":
                spec = None
                while spec is None or not spec.behaviour:  # GRPO logs eval only sometimes
                    spec = _FLAVOURS[variant.flavour](rng, **options)
            else:
                spec = _FLAVOURS[variant.flavour](rng, **options)
            k = 0 if variant.onset_at_start else _onset(spec)
            if variant.needs_eval:  # the observable onset is an eval point (the eval peak)
                eval_steps = next(iter(spec.sparse.values())).index.to_numpy()
                k = int(np.searchsorted(spec.steps, eval_steps[np.argmin(np.abs(eval_steps - spec.step(k)))]))
            variant.inject(spec, k)
            label = f"{variant.kind}/{variant.flavour}/{v_index}.{rep}"
            out.append(LabelledRun(label, spec.build(label), False, [ExpectedFinding(variant.kind, spec.step(k))],
                                   variant.flavour, variant.note or variant.inject.__doc__ or "", variant.tolerated))
    return out


def synthetic_corpus(seed: int = 0, *, healthy_per_flavour: int = HEALTHY_PER_FLAVOUR, repeats: int = 1) -> list[LabelledRun]:
    """The labelled synthetic corpus: healthy runs per flavour, then every broken variant.

    ``repeats`` draws each broken variant that many times with different seeds.
    """
    return _healthy_scenarios(seed, healthy_per_flavour) + _broken_scenarios(seed, repeats)
