"""Topic names, in one place: `<prefix>/<device>/...` and `<prefix>/fleet/request/...`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str
    device: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device}"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def info(self) -> str:
        return f"{self.base}/info"

    @property
    def health(self) -> str:
        return f"{self.base}/health"

    @property
    def stats(self) -> str:
        return f"{self.base}/stats"

    @property
    def event(self) -> str:
        return f"{self.base}/event"

    @property
    def update(self) -> str:
        """The A/B update's state (retained): idle, downloading ... committed."""
        return f"{self.base}/update"

    def camera_state(self, camera: str) -> str:
        return f"{self.base}/camera/{camera}/state"

    def camera_reason(self, camera: str) -> str:
        return f"{self.base}/camera/{camera}/reason"

    def discovery(self, source: str) -> str:
        """The cameras discovery plugin `source` knows of (retained)."""
        return f"{self.base}/discovery/{source}"

    def response(self, action: str) -> str:
        return f"{self.base}/response/{action}"

    @property
    def request_filters(self) -> tuple[str, str]:
        """This box's requests and the whole fleet's."""
        return f"{self.base}/request/+", f"{self.prefix}/fleet/request/+"

    def action_of(self, topic: str) -> str | None:
        """The action a request topic names, or None if it is not a request topic."""
        for head in (f"{self.base}/request/", f"{self.prefix}/fleet/request/"):
            if topic.startswith(head) and "/" not in topic[len(head):]:
                return topic[len(head):] or None
        return None
