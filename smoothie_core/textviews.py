"""Text views for the embedding step: which part of a long output the embedder reads.

Embedders read a bounded prefix (all-MiniLM-L6-v2: the first 256 word pieces), but
chain-of-thought outputs state their answer at the end. A *view* decides what is
embedded:

``"first"``
    What the embedder reads today: its first window (for a sentence-transformers model
    the text is passed as it is and the model truncates it, so the vector is exactly the
    plain embedder's).
``"last"``
    The last window: the text from the first word start that leaves at most one
    window of word pieces to the end.
``"windows"``
    The whole text: consecutive windows (cut at word starts) each embedded, their
    vectors averaged with weights = word pieces per window, then unit-normalised.
``"answer"``
    The stated final answer, :func:`smoothie_core.answers.final_answer` (normalised,
    so "$1,000" and "1000" embed alike). Where no answer can be extracted the
    ``fallback`` view of the whole output is embedded (default ``"last"``: the end,
    where an answer would have been).

A window is the embedder's maximum sequence length minus its special tokens (MiniLM:
256 - 2 = 254 word pieces), counted with the model's own tokenizer. Embedders without
a tokenizer (e.g. :class:`~smoothie_core.embedders.HashingEmbedder`) get an
approximation: a "piece" is a word (``\\w+``) or a punctuation mark, and a window is
``window`` (default 256) of them; real word pieces are about 1.3 per English word, so
this window covers somewhat more text than a 256-piece model would read.

Texts that fit in one window are embedded as they are under every view but
``"answer"`` (so a cache below the view shares them between views).

Examples
--------
>>> from smoothie_core.embedders import HashingEmbedder
>>> emb = ViewEmbedder(HashingEmbedder(dim=16), "last", window=4)
>>> emb.id
'hashing-v1|dim=16|view=last|window=4'
>>> emb.view_texts(["one two three four five six"])
[['three four five six']]
>>> emb.embed(["one two three four five six"]).shape
(1, 16)
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from smoothie_core.answers import extract_answer, normalize_answer
from smoothie_core.embedders import Embedder, SentenceTransformerEmbedder

__all__ = ["VIEWS", "DEFAULT_APPROX_WINDOW", "ViewEmbedder", "view_embedder"]

#: The text views, in the order they are documented.
VIEWS: tuple[str, ...] = ("first", "last", "windows", "answer")
#: Pieces per window when the embedder has no tokenizer (words and punctuation marks).
DEFAULT_APPROX_WINDOW = 256
#: Under "answer", texts longer than this (characters: fallbacks) get their own embed call.
_LONG_TEXT_CHARS = 256
#: Bumped when the answer extraction changes what the "answer" view embeds (cache key).
_ANSWER_VERSION = 2
_APPROX_PIECE = re.compile(r"\w+|[^\w\s]")


def _sentence_transformer(embedder: Any) -> SentenceTransformerEmbedder | None:
    """The sentence-transformers embedder under ``embedder`` (through caches), if any."""
    seen: set[int] = set()
    while embedder is not None and id(embedder) not in seen:
        if isinstance(embedder, SentenceTransformerEmbedder):
            return embedder
        seen.add(id(embedder))
        embedder = getattr(embedder, "embedder", None)
    return None


class ViewEmbedder:
    """An :class:`~smoothie_core.embedders.Embedder` that embeds one view of each text.

    Parameters
    ----------
    embedder : Embedder
        The embedder that reads the view's texts. When it is (or wraps, e.g. through
        :class:`~smoothie_core.embedders.CachedEmbedder`) a
        :class:`~smoothie_core.embedders.SentenceTransformerEmbedder`, windows are
        counted in its tokenizer's word pieces; otherwise approximately (module notes).
    view : {"first", "last", "windows", "answer"}, default="first"
    window : int, optional
        Word pieces per window. Default: the model's ``max_seq_length`` minus its special
        tokens (254 for MiniLM), or :data:`DEFAULT_APPROX_WINDOW` without a tokenizer.
    fallback : {"first", "last", "windows"}, default="last"
        The ``"answer"`` view's view of an output with no extractable answer.

    Attributes
    ----------
    id : str
        ``embedder.id`` plus the view and its settings; wrap the view embedder in
        :class:`~smoothie_core.embedders.CachedEmbedder` to cache each view separately.

    Examples
    --------
    >>> from smoothie_core.embedders import HashingEmbedder
    >>> emb = ViewEmbedder(HashingEmbedder(dim=8), "answer")
    >>> emb.view_texts(['{"reasoning": "9 eggs at $2", "answer": "$18.00"}'])
    [['18']]
    >>> ViewEmbedder(HashingEmbedder(dim=8), "windows", window=3).view_texts(["a b c d e"])
    [['a b c ', 'd e']]
    """

    def __init__(
        self,
        embedder: Embedder,
        view: str = "first",
        *,
        window: int | None = None,
        fallback: str = "last",
    ) -> None:
        if view not in VIEWS:
            raise ValueError(f"`view` must be one of {', '.join(VIEWS)}; got {view!r}.")
        if fallback not in VIEWS or fallback == "answer":
            raise ValueError(
                f"`fallback` must be one of first, last, windows (the view of an output with "
                f"no extractable answer); got {fallback!r}."
            )
        if window is not None and (isinstance(window, bool) or int(window) != window or window < 1):
            raise ValueError(f"`window` must be a positive int or None; got {window!r}.")
        self.embedder = embedder
        self.view = view
        self.fallback = fallback
        self._window = window
        self._st = _sentence_transformer(embedder)
        self._lock = threading.Lock()
        parts = [embedder.id, f"view={view}"]
        if window is not None:
            parts.append(f"window={window}")
        elif self._st is None:
            parts.append(f"approx-window={DEFAULT_APPROX_WINDOW}")
        if view == "answer":
            parts.append(f"fallback={fallback}|answers-v{_ANSWER_VERSION}")
        self.id = "|".join(parts)

    # ------------------------------------------------------------ splitting
    @property
    def window(self) -> int:
        """Word pieces per window (resolved; loads the model's tokenizer if needed)."""
        if self._window is not None:
            return self._window
        if self._st is None:
            return DEFAULT_APPROX_WINDOW
        model = self._st.model
        special = int(model.tokenizer.num_special_tokens_to_add(pair=False))
        return max(1, int(model.max_seq_length) - special)

    def _pieces(self, texts: Sequence[str]) -> list[tuple[list[int], list[bool]]]:
        """Per text: the start character of each piece and whether it starts a word."""
        if self._st is None:
            out = []
            for text in texts:
                starts = [m.start() for m in _APPROX_PIECE.finditer(text)]
                out.append((starts, [True] * len(starts)))
            return out
        if not texts:
            return []
        tok = self._st.model.tokenizer
        with self._lock:  # tokenizers are not documented as thread-safe
            enc = tok(
                list(texts),
                add_special_tokens=False,
                return_offsets_mapping=True,
                truncation=False,
                verbose=False,
            )
        out = []
        for i in range(len(texts)):
            offsets = enc["offset_mapping"][i]
            words = enc.word_ids(i)
            starts = [int(a) for a, _ in offsets]
            word_start = [j == 0 or words[j] != words[j - 1] for j in range(len(words))]
            out.append((starts, word_start))
        return out

    def _split(self, text: str, starts: list[int], word_start: list[bool]) -> list[tuple[str, int]]:
        """``text`` cut into consecutive windows at word starts: (window text, pieces)."""
        w = self.window
        n = len(starts)
        if n <= w:
            return [(text, max(n, 1))]
        cuts = [0]
        while n - cuts[-1] > w:
            end = cuts[-1] + w
            back = end
            while back > cuts[-1] + 1 and not word_start[back]:
                back -= 1
            cuts.append(back if word_start[back] else end)
        cuts.append(n)
        return [
            (text[starts[a] : starts[b]] if b < n else text[starts[a] :], b - a)
            for a, b in itertools.pairwise(cuts)
        ]

    def _last(self, text: str, starts: list[int], word_start: list[bool]) -> str:
        n = len(starts)
        if n <= self.window:
            return text
        cut = n - self.window
        while cut < n - 1 and not word_start[cut]:
            cut += 1
        return text[starts[cut] :]

    def _first(self, text: str, starts: list[int]) -> str:
        if self._st is not None or len(starts) <= self.window:
            return text  # the model truncates it itself: exactly the plain vector
        return text[: starts[self.window]]

    def view_texts(self, texts: Sequence[str]) -> list[list[str]]:
        """The texts the embedder reads for each input text (one or several windows).

        Weights of the ``"windows"`` view are the windows' word-piece counts.
        """
        return [[t for t, _ in group] for group in self._view_groups(_as_list(texts))]

    def _view_groups(self, texts: list[str]) -> list[list[tuple[str, int]]]:
        views = [self.view] * len(texts)
        sources = list(texts)
        if self.view == "answer":
            for i, text in enumerate(texts):
                found = extract_answer(text)
                if found is None:
                    views[i] = self.fallback
                else:
                    views[i] = "answer"
                    sources[i] = normalize_answer(found) or found
        need = [i for i, v in enumerate(views) if v != "answer"]
        pieces = dict(zip(need, self._pieces([sources[i] for i in need]), strict=True))
        groups: list[list[tuple[str, int]]] = []
        for i, (view, text) in enumerate(zip(views, sources, strict=True)):
            if view == "answer":
                groups.append([(text, 1)])
                continue
            starts, word_start = pieces[i]
            if view == "first":
                groups.append([(self._first(text, starts), 1)])
            elif view == "last":
                groups.append([(self._last(text, starts, word_start), 1)])
            else:
                groups.append(self._split(text, starts, word_start))
        return groups

    # ------------------------------------------------------------ embedding
    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed each text's view; float32 ``(len(texts), dim)``.

        ``"windows"`` vectors are unit-normalised token-weighted means; the other views
        return the embedder's vectors of the view text unchanged.
        """
        items = _as_list(texts)
        groups = self._view_groups(items)
        flat = [t for group in groups for t, _ in group]
        vecs = self._embed_flat(flat)
        if len(flat) == len(items):  # one text per input: no averaging
            return vecs.astype(np.float32, copy=False)
        vecs = vecs.astype(np.float64)
        out = np.zeros((len(items), vecs.shape[1]), dtype=np.float64)
        row = 0
        for i, group in enumerate(groups):
            weights = np.array([w for _, w in group], dtype=np.float64)
            out[i] = weights @ vecs[row : row + len(group)]
            row += len(group)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    def _embed_flat(self, flat: list[str]) -> NDArray[np.float32]:
        """Embed ``flat``; under ``"answer"``, short answers and long fallbacks separately.

        A sentence-transformers model pads each batch to its longest text, so one long
        fallback output among short answers would make its whole batch cost as much as
        long texts; two calls keep the answers cheap.
        """
        if self.view != "answer" or not flat:
            return np.asarray(self.embedder.embed(flat), dtype=np.float32)
        cutoff = _LONG_TEXT_CHARS
        long_rows = [i for i, t in enumerate(flat) if len(t) > cutoff]
        if not long_rows or len(long_rows) == len(flat):
            return np.asarray(self.embedder.embed(flat), dtype=np.float32)
        short_rows = [i for i, t in enumerate(flat) if len(t) <= cutoff]
        a = np.asarray(self.embedder.embed([flat[i] for i in short_rows]), dtype=np.float32)
        b = np.asarray(self.embedder.embed([flat[i] for i in long_rows]), dtype=np.float32)
        out = np.empty((len(flat), a.shape[1]), dtype=np.float32)
        out[short_rows] = a
        out[long_rows] = b
        return out

    def __repr__(self) -> str:
        return f"ViewEmbedder({self.embedder!r}, view={self.view!r})"


def _as_list(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError(
            f"`texts` must be a sequence of str, not a single str; got {texts[:40]!r}. "
            "Wrap it in a list."
        )
    items = list(texts)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"`texts` must be a sequence of str; item {i} is {type(t).__name__}.")
    return items


def view_embedder(embedder: Embedder, view: str | None) -> Embedder:
    """``embedder`` itself for ``None``, else ``ViewEmbedder(embedder, view)``.

    Examples
    --------
    >>> from smoothie_core.embedders import HashingEmbedder
    >>> base = HashingEmbedder(dim=8)
    >>> view_embedder(base, None) is base, view_embedder(base, "last").id
    (True, 'hashing-v1|dim=8|view=last|approx-window=256')
    """
    return embedder if view is None else ViewEmbedder(embedder, view)
