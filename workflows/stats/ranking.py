"""The OPD ranking: its weights (a regency's setting) and the scores and ranks they give."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy.orm import Session

from workflows.models import Setting

WEIGHTS_SETTING = "stats.ranking_weights"


@dataclass(frozen=True)
class RankingWeights:
    """How the OPD ranking weighs its four components (each 0..1); see docs/statistics.md."""

    followed_up: float = 0.3
    on_time: float = 0.3
    speed: float = 0.2
    satisfaction: float = 0.2
    speed_reference_days: float = 10.0  # a mean answer this slow (or slower) scores 0
    min_reports: int = 1  # fewer dispositioned reports than this: not ranked

    def __post_init__(self) -> None:
        parts = (self.followed_up, self.on_time, self.speed, self.satisfaction)
        if any(w < 0 for w in parts) or sum(parts) <= 0:
            raise ValueError("ranking weights are non-negative and not all zero")
        if self.speed_reference_days <= 0 or self.min_reports < 1:
            raise ValueError("speed_reference_days must be positive, min_reports at least 1")


def load_weights(session: Session) -> RankingWeights:
    """The regency's weights from the ``stats.ranking_weights`` setting, else the defaults."""
    row = session.get(Setting, WEIGHTS_SETTING)
    if row is None or not isinstance(row.value, dict):
        return RankingWeights()
    known = {f.name for f in fields(RankingWeights)}
    return RankingWeights(**{k: v for k, v in row.value.items() if k in known})


def rank(by_agency: list[dict[str, Any]], on_time: list[dict[str, Any]],
         speed: list[dict[str, Any]], satisfaction: list[dict[str, Any]],
         weights: RankingWeights, unanswered_late: Mapping[int | None, int] | None = None
         ) -> dict[str, Any]:
    """OPDs (and BUMD, kecamatan, kelurahan) scored 0-100; see docs/statistics.md.

    Follow-up is answered / (answered + unanswered past their follow-up deadline): a report
    disposed minutes ago, still within its deadline, is no failure yet. An OPD with nothing
    measurable yet (no answer, no deadline passed, no rating) gets no score and no rank."""
    late_of = unanswered_late or {}
    on_time_of = {r["agency_id"]: r["on_time_pct"] for r in on_time}
    speed_of = {r["agency_id"]: r["mean_days"] for r in speed}
    rating_of = {r["agency_id"]: r["mean"] for r in satisfaction}
    items = []
    for row in by_agency:
        g = row["agency_id"]
        if g is None or row["dispositioned"] < weights.min_reports:
            continue
        mean_days = speed_of.get(g)
        rating = rating_of.get(g)
        judged = row["answered"] + late_of.get(g, 0)
        components = {
            "followed_up": min(1.0, row["answered"] / judged) if judged else None,
            "on_time": None if on_time_of.get(g) is None else on_time_of[g] / 100.0,
            "speed": None if mean_days is None else max(
                0.0, 1.0 - mean_days / weights.speed_reference_days),
            "satisfaction": None if rating is None else (rating - 1.0) / 4.0,
        }
        weight = {name: getattr(weights, name) for name in components}
        present = [n for n, c in components.items() if c is not None and weight[n] > 0]
        total = sum(weight[n] for n in present)
        score = round(100.0 * sum(weight[n] * components[n] for n in present) / total, 2) \
            if total else None
        items.append({"agency": {"code": row["key"], "label": row["label"]},
                      "dispositioned": row["dispositioned"], "score": score,
                      "components": {n: None if c is None else round(c, 4)
                                     for n, c in components.items()}})
    items.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0), -r["dispositioned"],
                              r["agency"]["code"]))
    previous, rank = None, 0
    for position, item in enumerate(items, start=1):
        if item["score"] is None:
            item["rank"] = None
            continue
        if item["score"] != previous:
            rank, previous = position, item["score"]
        item["rank"] = rank
    return {"weights": asdict(weights), "items": items}
