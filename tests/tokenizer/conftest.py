"""Shared fixtures of the tokenizer tests: the reference TRIE_TOKENIZER and the corpus."""
import pytest

from rrwkv_rt import Tokenizer

import tok_corpus


@pytest.fixture(scope="session")
def world():
    return Tokenizer.world()


@pytest.fixture(scope="session")
def official():
    """The `rwkv` package's TRIE_TOKENIZER on its own copy of the vocabulary."""
    rwkv_tokenizer = pytest.importorskip("rwkv.rwkv_tokenizer")
    import os
    path = os.path.join(os.path.dirname(rwkv_tokenizer.__file__), "rwkv_vocab_v20230424.txt")
    return rwkv_tokenizer.TRIE_TOKENIZER(path)


@pytest.fixture(scope="session")
def corpus(world):
    return tok_corpus.corpus([world.token_bytes(i) for i in range(1, world.vocab_size)])
