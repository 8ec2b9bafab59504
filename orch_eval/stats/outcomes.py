"""The input type of the statistics layer: per-item correctness of several systems, paired.

Every statistic in :mod:`orch_eval.stats` is computed on *paired* data: all systems
answered exactly the same items. :class:`PairedOutcomes` guarantees that by construction:
it aligns per-system results by item id and refuses mismatched item sets unless the caller
explicitly asks for the intersection. Log loaders (written elsewhere) should produce one
of these and nothing else.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "ItemSetMismatchError",
    "MissingClusterError",
    "PairedOutcomes",
]

#: An item id: any hashable value. Typed as Any in the mappings below because a Mapping is
#: invariant in its key type (Mapping[Hashable, bool] would refuse a dict[str, bool]).
ItemId = Any

#: Per-system cost or latency: either an already aggregated number, or per-item values
#: (``{item_id: value}``) that are aggregated over the final, aligned item set.
PerSystemValue = float | Mapping[ItemId, float]

_MAX_EXAMPLES = 5


class ItemSetMismatchError(ValueError):
    """Systems were scored on different item sets (the comparison would not be paired).

    The error keeps what it reports: ``items`` (system -> its item ids, in system order),
    ``hint`` (how to keep only the common items, e.g. ``"intersect=True"`` from Python or
    ``"--intersect"`` on a command line), ``sources`` (system -> the file(s) it was read
    from) and ``notes`` (system -> extra facts, e.g. unscored samples). The message has one
    header line and one line per system; :meth:`with_context` gives the same error with
    another hint, sources or notes.
    """

    def __init__(
        self,
        items: Mapping[str, set],
        hint: str = "intersect=True",
        sources: Mapping[str, Sequence[str]] | None = None,
        notes: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.items = {s: set(v) for s, v in items.items()}
        self.hint = hint
        self.sources = {s: list(v) for s, v in (sources or {}).items()}
        self.notes = {s: list(v) for s, v in (notes or {}).items()}
        super().__init__(self._message())

    def __reduce__(self) -> tuple:  # picklable despite the keyword-rich constructor
        return (type(self), (self.items, self.hint, self.sources, self.notes))

    @property
    def union(self) -> set:
        return set().union(*self.items.values())

    @property
    def common(self) -> set:
        return set.intersection(*self.items.values()) if self.items else set()

    def missing(self, system: str) -> set:
        """The items some other system has and ``system`` lacks."""
        return self.union - self.items[system]

    def with_context(
        self,
        hint: str | None = None,
        sources: Mapping[str, Sequence[str]] | None = None,
        notes: Mapping[str, Sequence[str]] | None = None,
    ) -> ItemSetMismatchError:
        """The same mismatch, described with another hint / the systems' files / notes."""
        return ItemSetMismatchError(
            self.items,
            hint if hint is not None else self.hint,
            sources if sources is not None else self.sources,
            notes if notes is not None else self.notes,
        )

    def _message(self) -> str:
        union, common = self.union, self.common
        remedy = (
            f"pass {self.hint} to keep only the common items"
            if common
            else "the systems have no item in common, so there is nothing to compare"
        )
        lines = [
            f"systems were scored on different item sets: {len(union)} distinct items in "
            f"total, {len(common)} common to all {len(self.items)} systems ({remedy})"
        ]
        for s, have in self.items.items():
            missing = union - have
            if not missing and not self.sources and not self.notes.get(s):
                continue
            where = f" ({', '.join(self.sources[s])})" if self.sources.get(s) else ""
            lacks = f"missing {len(missing)}, e.g. {_examples(missing)}" if missing else "missing none"
            lines.append(
                "; ".join([f"  {s!r}{where}: has {len(have)} items, {lacks}", *self.notes.get(s, [])])
            )
        return "\n".join(lines)


class MissingClusterError(ValueError):
    """Cluster labels were given but do not cover every item."""


def _examples(ids: Sequence[Hashable] | set, k: int = _MAX_EXAMPLES) -> list:
    try:
        ordered = sorted(ids)  # deterministic messages when ids are comparable
    except TypeError:
        ordered = list(ids)
    return ordered[:k]


def _as_correctness(values: Sequence[object] | np.ndarray, system: str) -> np.ndarray:
    """Convert per-item scores to a bool array, refusing anything that is not 0/1/True/False."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"system {system!r}: correctness values must be bool or 0/1 ({exc})") from None
    bad = ~((arr == 0.0) | (arr == 1.0))
    if bad.any():
        idx = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"system {system!r}: correctness values must be bool or 0/1; got {values[idx]!r} "
            f"({int(bad.sum())} invalid values)"
        )
    return arr.astype(bool)


@dataclass(frozen=True)
class PairedOutcomes:
    """Correctness of ``k`` systems on the same ``n`` items, aligned by item id.

    Attributes:
        item_ids: the items, in a fixed order (no statistic depends on this order).
        correct: system name -> read-only ``bool`` array of length ``n`` aligned to ``item_ids``.
            Dict order is the system order used in reports.
        clusters: optional read-only array of cluster labels (e.g. MMLU subject), one per item.
        cost_total: optional system name -> total cost over the items (e.g. USD).
        latency_mean: optional system name -> mean latency per item (e.g. seconds).
    """

    item_ids: tuple[Hashable, ...]
    correct: Mapping[str, np.ndarray]
    clusters: np.ndarray | None = None
    cost_total: Mapping[str, float] | None = None
    latency_mean: Mapping[str, float] | None = None
    _matrix: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        if n == 0:
            raise ValueError("PairedOutcomes needs at least one item")
        if not self.correct:
            raise ValueError("PairedOutcomes needs at least one system")
        if len(set(self.item_ids)) != n:
            raise ValueError("item_ids contains duplicates")
        fixed: dict[str, np.ndarray] = {}
        for name, vec in self.correct.items():
            arr = _as_correctness(vec, name) if np.asarray(vec).dtype != bool else np.array(vec, dtype=bool)
            if arr.shape != (n,):
                raise ValueError(f"system {name!r}: expected {n} values, got shape {arr.shape}")
            arr.setflags(write=False)
            fixed[name] = arr
        object.__setattr__(self, "correct", fixed)
        matrix = np.column_stack([fixed[s] for s in fixed])
        matrix.setflags(write=False)
        object.__setattr__(self, "_matrix", matrix)
        if self.clusters is not None:
            cl = np.asarray(self.clusters, dtype=object)
            if cl.shape != (n,):
                raise ValueError(f"clusters: expected {n} labels, got shape {cl.shape}")
            cl.setflags(write=False)
            object.__setattr__(self, "clusters", cl)
        for attr in ("cost_total", "latency_mean"):
            value = getattr(self, attr)
            if value is None:
                continue
            unknown = set(value) - set(fixed)
            if unknown:
                raise ValueError(f"{attr}: unknown systems {_examples(unknown)}")
            object.__setattr__(self, attr, {s: float(v) for s, v in value.items()})

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dict(
        cls,
        systems: Mapping[str, Mapping[ItemId, bool]],
        clusters: Mapping[ItemId, str] | None = None,
        intersect: bool = False,
        *,
        cost: Mapping[str, PerSystemValue] | None = None,
        latency: Mapping[str, PerSystemValue] | None = None,
    ) -> PairedOutcomes:
        """Align ``{system: {item_id: correct}}`` by item id.

        Item order is the first system's insertion order. If the systems were not scored
        on the same item set this raises :class:`ItemSetMismatchError` (a ``ValueError``)
        naming, per system, how many items it lacks and up to five examples -- unless
        ``intersect=True``, in which case only the items common to all systems are kept.

        ``clusters`` maps item id -> cluster label and must cover every retained item
        (extra labels are ignored). ``cost`` is aggregated as a total (sum of per-item
        values, or a number taken as the total); ``latency`` as a mean per item.
        """
        if not systems:
            raise ValueError("from_dict needs at least one system")
        names = list(systems)
        key_sets = {s: set(systems[s]) for s in names}
        union: set = set().union(*key_sets.values())
        common: set = set.intersection(*key_sets.values())
        first = systems[names[0]]
        if len(common) != len(union):
            if not intersect:
                raise ItemSetMismatchError(key_sets)
            item_ids = tuple(i for i in first if i in common)
        else:
            item_ids = tuple(first)
        if not item_ids:
            raise ItemSetMismatchError(key_sets)

        correct = {s: _as_correctness([systems[s][i] for i in item_ids], s) for s in names}

        cluster_arr = None
        if clusters is not None:
            missing_cl = [i for i in item_ids if i not in clusters]
            if missing_cl:
                raise MissingClusterError(
                    f"cluster labels missing for {len(missing_cl)} of {len(item_ids)} items, "
                    f"e.g. {_examples(missing_cl)}"
                )
            cluster_arr = np.array([clusters[i] for i in item_ids], dtype=object)

        return cls(
            item_ids=item_ids,
            correct=correct,
            clusters=cluster_arr,
            cost_total=_aggregate(cost, item_ids, "cost", mean=False),
            latency_mean=_aggregate(latency, item_ids, "latency", mean=True),
        )

    # ------------------------------------------------------------------ accessors
    @property
    def n(self) -> int:
        """Number of (paired) items."""
        return len(self.item_ids)

    @property
    def systems(self) -> tuple[str, ...]:
        """System names in report order."""
        return tuple(self.correct)

    @property
    def matrix(self) -> np.ndarray:
        """Read-only ``n x k`` bool matrix, columns in :attr:`systems` order."""
        return self._matrix

    def cluster_codes(self) -> np.ndarray | None:
        """Integer cluster code per item (``0..G-1``), or ``None`` without clusters."""
        if self.clusters is None:
            return None
        _, codes = np.unique(self.clusters.astype(str), return_inverse=True)
        return codes.ravel()

    @property
    def n_clusters(self) -> int | None:
        if self.clusters is None:
            return None
        return int(len(set(self.clusters.tolist())))


def _aggregate(
    values: Mapping[str, PerSystemValue] | None,
    item_ids: tuple[Hashable, ...],
    what: str,
    *,
    mean: bool,
) -> dict[str, float] | None:
    if values is None:
        return None
    out: dict[str, float] = {}
    for system, v in values.items():
        if isinstance(v, Mapping):
            missing = [i for i in item_ids if i not in v]
            if missing:
                raise ValueError(
                    f"{what} for {system!r} lacks {len(missing)} items, e.g. {_examples(missing)}"
                )
            arr = np.fromiter((float(v[i]) for i in item_ids), dtype=float, count=len(item_ids))
            out[system] = float(arr.mean() if mean else arr.sum())
        else:
            out[system] = float(v)
    return out
