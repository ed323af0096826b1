"""Pool slots and the policy a request runs under, both derived from the settings."""

from __future__ import annotations

from attrs import frozen

from fuse_ls.config import Settings
from fuse_ls.core.specs import ModelSpec
from fuse_ls.core.types import FusionPolicy, Mode


@frozen
class Slot:
    """One pool member. The same model may fill several slots (`repeat`)."""

    index: int
    spec: ModelSpec


def pool_slots(settings: Settings) -> list[Slot]:
    out: list[Slot] = []
    for spec in settings.pool:
        for _ in range(max(spec.repeat, 1)):
            out.append(Slot(len(out), spec))
    return out


def policy_for(settings: Settings, mode: Mode | None = None) -> FusionPolicy:
    """The fusion policy the settings describe; `mode` overrides the configured mode."""
    return FusionPolicy(
        mode=mode or settings.mode,
        judge=settings.judge,
        min_responses=settings.quorum.min_responses,
        deadline_s=settings.quorum.deadline_s,
        debate_rounds=settings.debate.rounds,
        min_votes_for_warning=settings.review.min_votes_for_warning,
    )


def serves(engine_settings: Settings, settings: Settings) -> bool:
    """Whether an engine built for `engine_settings` serves `settings` as well: the same
    pool and endpoints, connection settings and limits. The policy parts (mode, judge,
    quorum, debate) may differ: they travel with each request."""

    def key(s: Settings) -> tuple[object, ...]:
        return (
            s.pool,
            s.provider,
            s.timeouts,
            s.retries,
            s.budget,
            s.review.redact_secrets,
            s.telemetry.data_dir,
        )

    return key(engine_settings) == key(settings)
