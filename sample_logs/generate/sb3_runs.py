"""Generate the stable-baselines3 PPO sample runs (healthy and deliberately broken).

Each run writes into its own folder under ``sample_logs/sb3/``: a TensorBoard event file and
SB3's own ``progress.csv`` (both through ``stable_baselines3.common.logger.configure``), with
``Monitor`` wrappers (so ``rollout/ep_rew_mean`` is logged) and an ``EvalCallback`` on the
*unwrapped* environment (so ``eval/mean_reward`` is the true task return).

Usage (from the repository root)::

    nice -n 10 python sample_logs/generate/sb3_runs.py RUN_NAME [--out sample_logs/sb3]

RUN_NAME is one of the keys of ``RUNS`` below.
"""

from __future__ import annotations

import argparse
import os
import shutil

import gymnasium as gym
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import Monitor

# The machine is shared: one thread per job.
torch.set_num_threads(1)


class EdgeExitBonus(gym.Wrapper):
    """A gameable proxy reward for CartPole.

    Pays the usual +1 per step plus a large bonus when the episode ends because the *cart*
    left the track (|x| > 2.4). The true task (keep the pole up as long as possible) is best
    served by staying in the middle; the proxy is best served by driving off the edge, which
    ends the episode early. So the proxy return can rise while the true return falls.
    """

    EXIT_BONUS = 1000.0
    X_LIMIT = 2.4

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated and abs(float(obs[0])) > self.X_LIMIT:
            reward = float(reward) + self.EXIT_BONUS
        return obs, reward, terminated, truncated, info


def _cartpole_edge_bonus() -> gym.Env:
    return EdgeExitBonus(gym.make("CartPole-v1"))


class EdgeHoverBonus(gym.Wrapper):
    """A second gameable proxy: +1 per step plus up to ``EDGE_WEIGHT`` more the nearer the cart
    is to the end of the track. The proxy is best served by balancing near the edge, where the
    episode easily ends by leaving the track, so the true return (steps balanced) can fall."""

    EDGE_WEIGHT = 4.0
    X_LIMIT = 2.4

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        reward = float(reward) + self.EDGE_WEIGHT * min(abs(float(obs[0])) / self.X_LIMIT, 1.0)
        return obs, reward, terminated, truncated, info


def _cartpole_edge_hover() -> gym.Env:
    return EdgeHoverBonus(gym.make("CartPole-v1"))


class NaNRewardGlitch(gym.Wrapper):
    """An injected numerical fault: after ``GLITCH_STEP`` steps of this env, one step returns a
    NaN reward (as a reward computed by dividing by a quantity that happened to be zero would).
    Everything downstream of the returns (value loss, advantages, weights) becomes NaN."""

    GLITCH_STEP = 5_000  # per env; with 4 envs the glitch lands near timestep 20,000

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.steps = 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        if self.steps == self.GLITCH_STEP:
            reward = float("nan")
        return obs, reward, terminated, truncated, info


def _pendulum_nan_glitch() -> gym.Env:
    return NaNRewardGlitch(gym.make("Pendulum-v1"))


# name -> env id, optional reward wrapper, optional unlogged pretraining on the true reward,
# logged timesteps, vec-env size, seed, PPO kwargs
RUNS: dict[str, dict] = {
    "cartpole_healthy": dict(env="CartPole-v1", steps=100_000, n_envs=1, ppo={}),
    "cartpole_healthy_seed2": dict(env="CartPole-v1", steps=60_000, n_envs=4, seed=2,
                                   ppo=dict(n_steps=256, batch_size=64)),
    "cartpole_lr_too_high": dict(env="CartPole-v1", steps=60_000, n_envs=1,
                                 ppo=dict(learning_rate=0.03, n_epochs=30)),
    "cartpole_reward_hacking": dict(env="CartPole-v1", wrapper=_cartpole_edge_bonus,
                                    steps=150_000, n_envs=1, ppo={}),
    # RLHF-like: start from a competent policy (pretrained on the true reward, not logged),
    # then optimise a gameable proxy. With the sparse exit bonus the solved policy never
    # explores an exit, so nothing changes (a flat, solved run).
    "cartpole_solved_plateau": dict(env="CartPole-v1", wrapper=_cartpole_edge_bonus,
                                    pretrain_steps=60_000, steps=100_000, n_envs=1, ppo={}),
    # Meant as a second hack; the proxy stayed aligned with the task (see labels.json).
    "cartpole_edge_hover_proxy": dict(env="CartPole-v1", wrapper=_cartpole_edge_hover,
                                      steps=150_000, n_envs=1, ppo={}),
    # clip_range_vf is in reward units: 0.0005 freezes the critic near its initial output.
    "cartpole_value_clip_too_small": dict(env="CartPole-v1", steps=60_000, n_envs=1,
                                          ppo=dict(clip_range_vf=0.0005)),
    "acrobot_healthy": dict(env="Acrobot-v1", steps=100_000, n_envs=4,
                            ppo=dict(n_steps=256, gae_lambda=0.94, gamma=0.99, n_epochs=4,
                                     ent_coef=0.0)),
    # rl-baselines3-zoo hyperparameters for Pendulum-v1 (hyperparams/ppo.yml).
    "pendulum_healthy": dict(env="Pendulum-v1", steps=100_000, n_envs=4,
                             ppo=dict(n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10,
                                      ent_coef=0.0, learning_rate=1e-3, clip_range=0.2,
                                      use_sde=True, sde_sample_freq=4)),
    # A single NaN reward at ~20k steps. torch's distribution argument checks are off (as in
    # many production setups) so the run does not crash: it keeps logging NaN.
    "pendulum_nan_reward": dict(env="Pendulum-v1", wrapper=_pendulum_nan_glitch, steps=48_000,
                                n_envs=4, validate_args=False,
                                ppo=dict(n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10,
                                         ent_coef=0.0, learning_rate=1e-3, clip_range=0.2)),
    # An entropy bonus far too large for a continuous policy: the log-std climbs every update.
    "pendulum_entropy_bonus": dict(env="Pendulum-v1", steps=60_000, n_envs=1,
                                   ppo=dict(ent_coef=0.5, learning_rate=1e-3)),
}


def run(name: str, out_root: str) -> None:
    spec = RUNS[name]
    seed = spec.get("seed", 0)
    folder = os.path.join(out_root, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)

    if spec.get("validate_args") is False:
        torch.distributions.Distribution.set_default_validate_args(False)
    factory = spec.get("wrapper")
    if factory is not None:
        train_env = make_vec_env(factory, n_envs=spec["n_envs"], seed=seed)
    else:
        train_env = make_vec_env(spec["env"], n_envs=spec["n_envs"], seed=seed)
    # The evaluation env is always the unwrapped task: its return is the "true" score.
    eval_env = Monitor(gym.make(spec["env"]))
    eval_cb = EvalCallback(eval_env, eval_freq=max(2_000 // spec["n_envs"], 1),
                           n_eval_episodes=5, deterministic=True, verbose=0)

    if spec.get("pretrain_steps"):
        # Phase 1 (not logged): learn the true task, like an SFT policy before RLHF.
        true_env = make_vec_env(spec["env"], n_envs=spec["n_envs"], seed=seed)
        model = PPO("MlpPolicy", true_env, seed=seed, verbose=0, device="cpu", **spec["ppo"])
        model.learn(total_timesteps=spec["pretrain_steps"])
        model.set_env(train_env)
    else:
        model = PPO("MlpPolicy", train_env, seed=seed, verbose=0, device="cpu", **spec["ppo"])
    model.set_logger(configure(folder, ["csv", "tensorboard"]))
    model.learn(total_timesteps=spec["steps"], callback=eval_cb, reset_num_timesteps=True)
    print(name, "done; last eval", eval_cb.last_mean_reward)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", choices=sorted(RUNS))
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "sb3"))
    args = parser.parse_args()
    for run_name in args.runs:
        run(run_name, args.out)
