"""Pairing each claimed send with a recipient from the network, in memory.

Rules: never the sender itself, never the sender's domain, under the recipient's daily
receive cap; among the candidates it samples, it prefers another owner, then another
provider, then the least-received mailbox, so mail spreads across owners and providers.

Owner comes first: mail among one owner's mailboxes is a closed loop that builds no
reputation with anyone else (warmup.engine.pool measures its share). With provider
first, an owner spread over several providers in a network whose other owners share one
provider mailed itself for 11 % of its sends where 0 % was possible.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

SAMPLES = 12  # candidates looked at per send before the full scan


@dataclass
class Peer:
    id: int
    domain: str
    provider: str
    owner_id: int
    receive_cap: int
    received: int = 0


class Network:
    """The mailboxes that can receive today, with what they have received so far."""

    def __init__(self, peers: Sequence[Peer]) -> None:
        self.peers = list(peers)

    def __len__(self) -> int:
        return len(self.peers)

    def _fits(self, sender: Peer, peer: Peer) -> bool:
        return (
            peer.id != sender.id
            and peer.domain != sender.domain
            and peer.received < peer.receive_cap
        )

    @staticmethod
    def _rank(sender: Peer, peer: Peer) -> tuple[bool, bool, float]:
        return (
            peer.owner_id == sender.owner_id,
            peer.provider == sender.provider,
            peer.received / max(peer.receive_cap, 1),
        )

    def pick(self, sender: Peer, rng: random.Random) -> Peer | None:
        """A recipient for one send from `sender`, counted as received; None when the
        network has nobody left that fits."""
        if not self.peers:
            return None
        # _fits and _rank written out over the sample: the first best one, as min() takes.
        best, best_rank = None, None
        for peer in rng.choices(self.peers, k=SAMPLES):
            if (
                peer.id == sender.id
                or peer.domain == sender.domain
                or peer.received >= peer.receive_cap
            ):
                continue
            rank = (
                peer.owner_id == sender.owner_id,
                peer.provider == sender.provider,
                peer.received / max(peer.receive_cap, 1),
            )
            if best_rank is None or rank < best_rank:
                best, best_rank = peer, rank
        if best is None:
            # Small or nearly exhausted network: look at everyone once.
            fitting = [p for p in self.peers if self._fits(sender, p)]
            if not fitting:
                return None
            best = min(fitting, key=lambda p: self._rank(sender, p))
        best.received += 1
        return best


def pair_recipients(
    senders: Sequence[Peer], network: Network, rng: random.Random
) -> list[Peer | None]:
    """One recipient (or None) per sender, in order."""
    paired = [network.pick(sender, rng) for sender in senders]
    unpaired = sum(p is None for p in paired)
    if unpaired:
        log.warning(
            "network too small to pair %d of %d sends (%d mailboxes can receive): "
            "they stay due and are tried again later",
            unpaired,
            len(senders),
            len(network),
        )
    return paired
