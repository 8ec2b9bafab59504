"""Ranks, simultaneous rank intervals and compact letter displays from a significance relation.

Everything here works on ``K`` systems given by their accuracies and a symmetric ``K x K``
boolean matrix ``significant`` (``True`` where the pair's multiplicity-adjusted test rejects
equality). The direction of a significant difference is read from the accuracies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["compact_letter_display", "competition_ranks", "letter_names", "rank_intervals"]

_TIE_DECIMALS = 12
"""Accuracies equal to this many decimals are ties (an equally weighted mean of fractions can
differ in the last bits for systems that are exactly tied)."""


def _rounded(accuracy: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.round(np.asarray(accuracy, dtype=float), _TIE_DECIMALS)


def _check(accuracy: np.ndarray, significant: np.ndarray) -> None:
    k = accuracy.shape[0]
    if significant.shape != (k, k):
        raise ValueError(f"significant must be {k} x {k}, got shape {significant.shape}")
    if not np.array_equal(significant, significant.T):
        raise ValueError("significant must be symmetric")


def competition_ranks(accuracy: Sequence[float] | np.ndarray) -> np.ndarray:
    """Rank 1 for the highest accuracy; ties share the better rank (1, 2, 2, 4)."""
    acc = _rounded(accuracy)
    return np.array([1 + int(np.count_nonzero(acc > a)) for a in acc], dtype=int)


def rank_intervals(
    accuracy: Sequence[float] | np.ndarray, significant: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rank intervals ``[1 + #significantly better, K - #significantly worse]`` per system.

    If no significance claim of the family is false (which a family-wise error control at
    ``alpha`` guarantees with probability ``>= 1 - alpha``), every system's true rank lies in its
    interval, for all systems at once: the systems declared better are truly better, so at least
    that many rank above it, and likewise below.
    """
    acc = _rounded(accuracy)
    sig = np.asarray(significant, dtype=bool)
    _check(acc, sig)
    k = acc.shape[0]
    better = (sig & (acc[None, :] > acc[:, None])).sum(axis=1)
    worse = (sig & (acc[None, :] < acc[:, None])).sum(axis=1)
    return 1 + better.astype(int), k - worse.astype(int)


def letter_names(count: int) -> list[str]:
    """``a`` .. ``z``, then ``A`` .. ``Z``, then ``a1``, ``b1``, ... (single characters while they last)."""
    base = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    return [base[i % len(base)] + ("" if i < len(base) else str(i // len(base))) for i in range(count)]


def _absorb(columns: list[int]) -> list[int]:
    """Drop duplicate columns and every column whose member set lies inside another's."""
    unique = sorted(set(columns), key=lambda c: -c.bit_count())
    kept: list[int] = []
    for col in unique:
        if not any(col & other == col for other in kept):
            kept.append(col)
    return kept


def compact_letter_display(order: Sequence[int], significant: np.ndarray) -> list[list[str]]:
    """Letters per system such that two systems share a letter exactly when they are *not*
    significantly different (Piepho 2004, "An algorithm for a letter-based representation of
    all-pairwise comparisons", J. Comput. Graph. Stat. 13:456-466: insert, absorb, sweep).

    ``order`` lists the system indices best first; letters are assigned in that order, so the
    best system carries ``a``. Returns one list of letters per system index.
    """
    sig = np.asarray(significant, dtype=bool)
    k = sig.shape[0]
    if sig.shape != (k, k) or not np.array_equal(sig, sig.T):
        raise ValueError("significant must be a symmetric K x K matrix")
    if sorted(order) != list(range(k)):
        raise ValueError("order must be a permutation of the system indices")
    if k == 0:
        return []
    position = {s: p for p, s in enumerate(order)}
    # columns as bit masks over positions in `order` (bit p: the p-th best system)
    columns = [(1 << k) - 1]
    pairs = sorted(
        (min(position[i], position[j]), max(position[i], position[j]))
        for i in range(k)
        for j in range(i + 1, k)
        if sig[i, j]
    )
    for p, q in pairs:  # insert: split every column holding both members of a significant pair
        both = (1 << p) | (1 << q)
        if not any(col & both == both for col in columns):
            continue
        split: list[int] = []
        for col in columns:
            if col & both == both:
                split += [col & ~(1 << p), col & ~(1 << q)]
            else:
                split.append(col)
        columns = _absorb(split)
    # sweep: remove a member from a column when each of its non-significant partners there
    # also shares another column with it (the letter is redundant for that member)
    nonsig = [[not sig[order[p], order[q]] for q in range(k)] for p in range(k)]
    for ci in range(len(columns)):
        for p in range(k):
            col = columns[ci]
            if not col >> p & 1:
                continue
            partners = [q for q in range(k) if q != p and col >> q & 1 and nonsig[p][q]]
            others = [c for cj, c in enumerate(columns) if cj != ci]
            if all(any(c >> p & 1 and c >> q & 1 for c in others) for q in partners) and any(
                c >> p & 1 for c in others
            ):
                columns[ci] = col & ~(1 << p)
    columns = [c for c in _absorb([c for c in columns if c]) if c]
    # letters in the order of their best member, then of the next ones
    members = [[p for p in range(k) if c >> p & 1] for c in columns]
    members.sort()
    names = letter_names(len(members))
    out: list[list[str]] = [[] for _ in range(k)]
    for name, group in zip(names, members, strict=True):
        for p in group:
            out[order[p]].append(name)
    return out
