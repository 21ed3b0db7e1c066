"""Cameras asked as they are heard: with the site's credentials (`[onvif] user` and
`password`), each camera heard of (a Hello, an answer to a probe) is described once per
address in the background, so the found list shows its proposed streams, or why it would
not say, before anyone types a password."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from nvr_edge_onvif.candidates import describe
from nvr_edge_onvif.probe import ProbeMatch
from nvr_edge_onvif.registry import Registry
from nvr_edge_onvif.soap import Credentials

log = logging.getLogger(__name__)
MAX_PARALLEL = 4  # cameras asked at once (a building's worth booting together)


class Asker:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.credentials: Credentials | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending: set[str] = set()

    def configure(self, user: str | None, password: str | None) -> bool:
        """The site's credentials (None: cameras are not asked); whether they changed (what
        cameras said with the old ones is forgotten)."""
        new = Credentials(user, password) if user is not None and password is not None \
            else None
        if new == self.credentials:
            return False
        self.credentials = new
        self.registry.forget_descriptions()
        return True

    def start(self) -> Asker:
        self._pool = ThreadPoolExecutor(MAX_PARALLEL, thread_name_prefix="onvif-ask")
        return self

    def stop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def heard(self, camera: ProbeMatch) -> None:
        """Ask `camera` unless it was asked at this address already or is being asked."""
        credentials, pool = self.credentials, self._pool
        if credentials is None or pool is None or self.registry.is_described(camera.urn):
            return
        with self._lock:
            if camera.urn in self._pending:
                return
            self._pending.add(camera.urn)
        try:
            pool.submit(self._ask, camera, credentials)
        except RuntimeError:  # stopped meanwhile
            with self._lock:
                self._pending.discard(camera.urn)

    def _ask(self, camera: ProbeMatch, credentials: Credentials) -> None:
        try:
            candidate = describe(camera, credentials)
            after_s = self.registry.described(camera.urn, candidate.public(credentials.user))
            if after_s is not None:
                log.info("discovery: %s %s %.2f s after it was first heard", camera.urn,
                         f"refused to say: {candidate.problem}" if candidate.problem
                         else "proposed", after_s)
        except Exception:  # a camera's odd answer must not end the asking
            log.exception("discovery: asking %s failed", camera.urn)
        finally:
            with self._lock:
                self._pending.discard(camera.urn)
