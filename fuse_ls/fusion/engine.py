"""The fusion engine. (Interface stub: the implementation is landing.)"""

from __future__ import annotations

from fuse_ls.config import Settings
from fuse_ls.fusion.provider import ChatClient  # type: ignore[attr-defined]
from fuse_ls.fusion.types import FusionRequest, FusionResult, Observer


class FusionEngine:
    """Runs one fusion at a time per call; many calls may run concurrently.

    Cancel the task awaiting `run` to stop every HTTP stream of that fusion.
    """

    def __init__(self, settings: Settings, client: ChatClient | None = None) -> None:
        self.settings = settings
        self.client = client

    async def estimate_cost(self, request: FusionRequest) -> float | None:
        raise NotImplementedError

    async def run(
        self, request: FusionRequest, observer: Observer | None = None, fusion_id: str | None = None
    ) -> FusionResult:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError
