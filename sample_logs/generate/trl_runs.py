"""Generate the TRL GRPO / RLOO sample runs on a tiny, locally built language model.

No model hub is reachable, so the "SFT model" is built here: a 2-layer Llama (hidden size 64)
with a word-level tokenizer over 160 made-up words, briefly trained with plain causal-LM loss to
answer ``question qN :`` prompts with 3-10 random words then ``<eos>``. That base model (and its
tokenizer) is saved to a scratch folder and handed to the trainers by path, so TRL builds the
frozen reference model from the same weights (``beta > 0``).

Each run writes its TensorBoard event file (``report_to=["tensorboard"]``, ``logging_steps=1``)
and the Trainer's ``trainer_state.json`` (``trainer.save_state()`` after training; the
``save_strategy="steps"`` checkpoint at the last step stays in the scratch folder with the
weights) into ``sample_logs/trl/<run>/``. No weights are ever written under sample_logs/.

Usage (from the repository root)::

    nice -n 10 python sample_logs/generate/trl_runs.py RUN_NAME [RUN_NAME ...]
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import shutil

import torch
from datasets import Dataset
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast,
                          TrainerCallback)
from transformers.integrations import TensorBoardCallback
from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

# The machine is shared: one thread per job.
torch.set_num_threads(1)

SCRATCH = os.environ.get("SAMPLES_SCRATCH", "/tmp/samples_work/trl")
BASE_DIR = os.path.join(SCRATCH, "base_model")
OUT_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "trl")

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
TARGET_WORDS = [f"t{i}" for i in range(16)]  # the words the "task" reward asks for
FILLER_WORDS = [f"w{i}" for i in range(144)]
PROMPT_WORDS = ["question", ":"] + [f"q{i}" for i in range(40)]
VOCAB = SPECIALS + TARGET_WORDS + FILLER_WORDS + PROMPT_WORDS
ANSWER_WORDS = TARGET_WORDS + FILLER_WORDS

MAX_COMPLETION = 24
TRAIN_PROMPTS = [f"question q{i} :" for i in range(32)]
EVAL_PROMPTS = [f"question q{i} :" for i in range(32, 40)]


def build_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {word: idx for idx, word in enumerate(VOCAB)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", vocab["<bos>"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<bos>",
                                   eos_token="<eos>", unk_token="<unk>", padding_side="left")


def build_base_model() -> None:
    """Build and briefly 'SFT' the tiny model so it answers with a few words then <eos>."""
    if os.path.exists(os.path.join(BASE_DIR, "config.json")):
        return
    torch.manual_seed(0)
    rng = random.Random(0)
    tokenizer = build_tokenizer()
    config = LlamaConfig(vocab_size=len(VOCAB), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(300):
        texts = [rng.choice(TRAIN_PROMPTS + EVAL_PROMPTS) + " "
                 + " ".join(rng.choices(ANSWER_WORDS, k=rng.randint(3, 10))) for _ in range(32)]
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        ids = torch.cat([batch.input_ids, torch.full((len(texts), 1), tokenizer.pad_token_id)], 1)
        mask = torch.cat([batch.attention_mask, torch.zeros(len(texts), 1, dtype=torch.long)], 1)
        # Left padding: the eos goes right after the last real token, i.e. at the end.
        ids[:, -1] = tokenizer.eos_token_id
        mask[:, -1] = 1
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    print(f"base model SFT loss {loss.item():.3f}")
    os.makedirs(BASE_DIR, exist_ok=True)
    model.save_pretrained(BASE_DIR)
    tokenizer.save_pretrained(BASE_DIR)


# ---------------------------------------------------------------- rewards and behaviour metric
def _words(completion: str) -> list[str]:
    return completion.split()


def target_fraction(completions, **kwargs) -> list[float]:
    """The learnable task reward: fraction of answer words from the target set."""
    return [sum(w in TARGET_WORDS for w in _words(c)) / max(len(_words(c)), 1)
            for c in completions]


def length_reward(completions, completion_ids, **kwargs) -> list[float]:
    """The gameable proxy: longer answers score higher (tokens / cap)."""
    return [len(ids) / MAX_COMPLETION for ids in completion_ids]


_FLAKY_RNG = random.Random(0)
FLAKY_RATE = 1 / 500  # per completion: ~12 % of 64-completion steps get one outlier
FLAKY_SCORE = 50.0  # an unnormalised score leaking through, ~200x the usual reward


def flaky_target_fraction(completions, **kwargs) -> list[float]:
    """The task reward behind a flaky scorer: now and then (seeded, independent of the text)
    it returns a raw, unnormalised score instead of a value in [0, 1]."""
    return [FLAKY_SCORE if _FLAKY_RNG.random() < FLAKY_RATE else score
            for score in target_fraction(completions)]


def constant_reward(completions, **kwargs) -> list[float]:
    """A broken reward that returns the same value for every completion."""
    return [1.0 for _ in completions]


def true_quality(completion: str, finished: bool) -> float:
    """Behaviour metric for the length-hacking run: a truncated answer is a failed answer,
    and repeated words count once."""
    words = _words(completion)
    if not finished or not words:
        return 0.0
    return len(set(words)) / len(words)


class BehaviourEval(TrainerCallback):
    """Every ``every`` steps, sample answers to held-out prompts and log ``eval_true_quality``
    and ``eval_proxy_length`` the way the HF Trainer logs eval metrics (log_history entry plus
    TensorBoard ``eval/...`` scalars)."""

    def __init__(self, tokenizer, every: int = 2):
        self.tokenizer = tokenizer
        self.every = every
        self.tb = None

    def _evaluate(self, model) -> dict[str, float]:
        prompts = [p for p in EVAL_PROMPTS for _ in range(4)]
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=MAX_COMPLETION, do_sample=True,
                                 pad_token_id=self.tokenizer.pad_token_id,
                                 eos_token_id=self.tokenizer.eos_token_id)
        completions = out[:, batch.input_ids.shape[1]:]
        quality, lengths = [], []
        for ids in completions.tolist():
            finished = self.tokenizer.eos_token_id in ids
            if finished:
                ids = ids[:ids.index(self.tokenizer.eos_token_id)]
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            quality.append(true_quality(text, finished))
            lengths.append(len(ids))
        return {"eval_true_quality": sum(quality) / len(quality),
                "eval_proxy_length": sum(lengths) / len(lengths) / MAX_COMPLETION}

    def _log(self, args, state, model) -> None:
        metrics = self._evaluate(model)
        state.log_history.append({**metrics, "epoch": state.epoch, "step": state.global_step})
        if self.tb is not None and self.tb.tb_writer is not None:
            for key, value in metrics.items():
                self.tb.tb_writer.add_scalar("eval/" + key[len("eval_"):], value,
                                             state.global_step)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._log(args, state, model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every == 0:
            self._log(args, state, model)


# ---------------------------------------------------------------- runs
COMMON = dict(num_generations=8, per_device_train_batch_size=64,
              max_completion_length=MAX_COMPLETION, logging_steps=1, max_steps=200,
              report_to=["tensorboard"], save_strategy="steps", save_only_model=True,
              use_cpu=True, seed=0, temperature=1.0, beta=0.04, learning_rate=3e-4,
              lr_scheduler_type="constant")

RUNS: dict[str, dict] = {
    "grpo_healthy": dict(trainer="grpo", rewards=[target_fraction],
                         config=dict(learning_rate=1e-4, beta=0.1)),
    # Same task at a 3x higher LR and a lower beta: learns it, and drifts far from the reference.
    "grpo_kl_drift": dict(trainer="grpo", rewards=[target_fraction], config={}),
    "grpo_kl_blowup": dict(trainer="grpo", rewards=[target_fraction],
                           config=dict(learning_rate=5e-3, beta=0.001)),
    "grpo_length_hacking": dict(trainer="grpo", rewards=[length_reward], behaviour=True,
                                config=dict(learning_rate=1e-4)),
    "grpo_zero_signal": dict(trainer="grpo", rewards=[constant_reward], config={}),
    "rloo_healthy": dict(trainer="rloo", rewards=[target_fraction],
                         config=dict(learning_rate=1e-4, beta=0.1)),
    "rloo_kl_drift": dict(trainer="rloo", rewards=[target_fraction], config={}),
    # Dr. GRPO-style scale_rewards="none" with a reward that has rare outliers: the advantages
    # are not divided by the group std, so each outlier step has a huge advantage and gradient.
    "grpo_reward_outliers": dict(trainer="grpo", rewards=[flaky_target_fraction],
                                 config=dict(learning_rate=1e-4, beta=0.1, scale_rewards="none",
                                             max_steps=120)),
    # Sampling at temperature 2 (generation_kwargs overrides the sampler only) while the
    # trainer scores log-probs at args.temperature 1: the completions come from a flatter
    # distribution than the policy, so the k1 KL estimate is biased (negative once the policy
    # sharpens away from the reference).
    "rloo_hot_sampling": dict(trainer="rloo", rewards=[target_fraction],
                              config=dict(learning_rate=1e-3, generation_kwargs={"temperature": 2.0},
                                          max_steps=120)),
}


def run(name: str) -> None:
    build_base_model()
    spec = RUNS[name]
    tokenizer = PreTrainedTokenizerFast.from_pretrained(BASE_DIR)
    scratch = os.path.join(SCRATCH, name)
    shutil.rmtree(scratch, ignore_errors=True)
    settings = {**COMMON, **spec["config"]}
    settings["save_steps"] = settings["max_steps"]
    dataset = Dataset.from_dict({"prompt": TRAIN_PROMPTS * 40})
    config_cls, trainer_cls = ((GRPOConfig, GRPOTrainer) if spec["trainer"] == "grpo"
                               else (RLOOConfig, RLOOTrainer))
    args = config_cls(output_dir=scratch, **settings)
    callbacks = []
    if spec.get("behaviour"):
        callbacks.append(BehaviourEval(tokenizer))
    trainer = trainer_cls(model=BASE_DIR, reward_funcs=spec["rewards"], args=args,
                          train_dataset=dataset, processing_class=tokenizer, callbacks=callbacks)
    for cb in callbacks:
        cb.tb = next((c for c in trainer.callback_handler.callbacks
                      if isinstance(c, TensorBoardCallback)), None)
    trainer.train()
    # save_state() writes output_dir/trainer_state.json with the final summary entry
    # (train_runtime, train_loss, ...) that checkpoint-N/trainer_state.json does not have yet.
    trainer.save_state()

    folder = os.path.join(OUT_ROOT, f"{spec['trainer']}_{name.split('_', 1)[1]}")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    shutil.copy(os.path.join(scratch, "trainer_state.json"),
                os.path.join(folder, "trainer_state.json"))
    for event_file in glob.glob(os.path.join(scratch, "**", "events.out.tfevents*"),
                                recursive=True):
        shutil.copy(event_file, folder)
    print(name, "->", folder)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", choices=sorted(RUNS))
    parser.add_argument("--steps", type=int, default=None, help="override max_steps (smoke test)")
    parser.add_argument("--out", default=OUT_ROOT, help="where the run folders go")
    cli = parser.parse_args()
    if cli.steps:
        COMMON["max_steps"] = cli.steps
        for spec in RUNS.values():
            spec["config"].pop("max_steps", None)
    OUT_ROOT = cli.out
    for run_name in cli.runs:
        run(run_name)
