"""Build tiny, randomly initialised causal LMs on disk, with no download.

They make the live path runnable end to end on a CPU-only machine: the tests record a zoo of them,
and ``python -m messenv.live.tiny_models DIR`` writes the models that ``conf/zoo/tiny-random.yaml``
expects (``zoo.root=DIR``). Their answers are random guesses, so a recording of them is a smoke
test of the machinery, never a benchmark.

The tokenizer is a byte-level BPE with no merges (one token per UTF-8 byte), built in code, so any
text tokenises and nothing has to be fetched from a hub.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

#: label -> (layers, hidden size): the zoo's models grow in size, as a real zoo's do.
TINY_ZOO = {"tiny-a": (1, 16), "tiny-b": (2, 32), "tiny-c": (3, 48)}
END_OF_TEXT = "<|endoftext|>"
NEEDS = ("torch", "transformers", "tokenizers")
"""What building the models imports: the ``embed`` extra installs all three (torch pinned first)."""
INSTALL = 'pip install torch==2.13.0 && pip install -e ".[embed]"'
EXIT_MISSING_EXTRA = 2


def build_tokenizer():  # transformers is optional: its types are not imported at module level
    """A byte-level tokenizer: 256 byte tokens plus an end-of-text token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {symbol: index for index, symbol in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab[END_OF_TEXT] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=END_OF_TEXT, eos_token=END_OF_TEXT)


def build_tiny_causal_lm(
    directory: str | Path, n_layer: int, n_embd: int, seed: int, n_head: int = 2, max_positions: int = 1024
) -> Path:
    """Save a randomly initialised GPT-2-style model and its tokenizer to ``directory``.

    vLLM's attention kernels need a supported head size (64, 128, ...): pass ``n_embd = 64 * n_head``
    for a model meant for vLLM; the transformers engine takes any size.
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = build_tokenizer()
    end = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=max_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=end,
        eos_token_id=end,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    path = Path(directory)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_tiny_zoo(root: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write every model of :data:`TINY_ZOO` under ``root/<label>``; return label -> path."""
    return {
        label: build_tiny_causal_lm(Path(root) / label, n_layer, n_embd, seed=seed + offset)
        for offset, (label, (n_layer, n_embd)) in enumerate(TINY_ZOO.items())
    }


def missing_modules() -> list[str]:
    """The modules of :data:`NEEDS` that are not installed."""
    return [name for name in NEEDS if importlib.util.find_spec(name) is None]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m messenv.live.tiny_models DIR [--seed N]``; returns the exit status.

    On the base install (no torch) it says which extra to install, in one line, and returns 2.
    """
    parser = argparse.ArgumentParser(prog="python -m messenv.live.tiny_models", description=__doc__.splitlines()[0])
    parser.add_argument("root", help="directory to write the models into (one sub-directory per model)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    missing = missing_modules()
    if missing:
        print(
            f"{parser.prog}: error: building the tiny models needs {', '.join(missing)}, "
            f"from the embed extra: {INSTALL}",
            file=sys.stderr,
        )
        return EXIT_MISSING_EXTRA
    for label, path in build_tiny_zoo(args.root, args.seed).items():
        print(f"{label}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
