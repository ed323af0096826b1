"""What a fusion reports while it runs, as a small typed union.

The engine emits them; the server's progress, the CLI's live table and the telemetry
recorder observe them. Each event carries only what is true of it (a finished model has
a candidate, a finished fusion has a result), so observers match on the class rather
than checking optional fields. `kind` names each class in transcripts and logs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from attrs import frozen

from fuse_ls.core.checks import CheckReport
from fuse_ls.core.types import CandidateResult, FusionRequest, FusionResult, JudgeResult


@frozen(kw_only=True)
class _Event:
    kind: ClassVar[str]
    fusion_id: str = ""  # stamped by the engine
    elapsed_s: float = 0.0  # since the fusion started; stamped by the engine


@frozen(kw_only=True)
class FusionStarted(_Event):
    kind: ClassVar[str] = "fusion_started"
    request: FusionRequest | None = None


@frozen(kw_only=True)
class ModelStarted(_Event):
    kind: ClassVar[str] = "model_started"
    model: str
    index: int
    round: int = 0  # 0: the first answers; 1..3: debate rounds


@frozen(kw_only=True)
class ModelStreaming(_Event):
    """The model's first token arrived."""

    kind: ClassVar[str] = "model_streaming"
    model: str
    index: int
    round: int = 0


@frozen(kw_only=True)
class ModelFinished(_Event):
    kind: ClassVar[str] = "model_finished"
    model: str
    index: int
    candidate: CandidateResult
    round: int = 0


@frozen(kw_only=True)
class ModelFailed(_Event):
    """A pool member failed, or was cancelled (quorum met, deadline passed)."""

    kind: ClassVar[str] = "model_failed"
    model: str
    index: int
    candidate: CandidateResult
    round: int = 0


@frozen(kw_only=True)
class RoundStarted(_Event):
    kind: ClassVar[str] = "round_started"
    round: int
    message: str = ""


@frozen(kw_only=True)
class JudgeStarted(_Event):
    kind: ClassVar[str] = "judge_started"
    model: str
    stage: str = ""  # "review", "merge", "best-of"


@frozen(kw_only=True)
class JudgeFinished(_Event):
    kind: ClassVar[str] = "judge_finished"
    model: str
    judge: JudgeResult


@frozen(kw_only=True)
class JudgeFailed(_Event):
    kind: ClassVar[str] = "judge_failed"
    model: str
    judge: JudgeResult
    message: str = ""


@frozen(kw_only=True)
class ChecksStarted(_Event):
    """A fix is being tried in the isolated copy; `model` proposed it ("" for the judge's
    own fusion)."""

    kind: ClassVar[str] = "checks_started"
    model: str
    commands: int = 0


@frozen(kw_only=True)
class ChecksFinished(_Event):
    kind: ClassVar[str] = "checks_finished"
    model: str
    report: CheckReport


@frozen(kw_only=True)
class FusionFinished(_Event):
    kind: ClassVar[str] = "fusion_finished"
    result: FusionResult


@frozen(kw_only=True)
class FusionFailed(_Event):
    kind: ClassVar[str] = "fusion_failed"
    message: str


FusionEvent = (
    FusionStarted
    | ModelStarted
    | ModelStreaming
    | ModelFinished
    | ModelFailed
    | RoundStarted
    | JudgeStarted
    | JudgeFinished
    | JudgeFailed
    | ChecksStarted
    | ChecksFinished
    | FusionFinished
    | FusionFailed
)
ModelEvent = ModelStarted | ModelStreaming | ModelFinished | ModelFailed

Observer = Callable[[FusionEvent], None]
