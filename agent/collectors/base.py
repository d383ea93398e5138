"""The one interface every collector implements.

A collector is a class with a `name`, its config `options`, defaults for its
schedule, and `collect()` returning a list of `Sample`s. It takes everything it
reads (paths, commands, clients, the platform) from its constructor, never from
module globals, so tests can point it at their own sources.

"Nothing to report" is an empty list, not a failure. A failure is an exception:
the runner turns it into `wardwatch_collector_success{collector} 0`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable

    from agent.options import Option, Settings
    from agent.platform import Platform


class Sample(NamedTuple):
    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Context:
    """What every collector may read besides its own options."""

    config: Settings
    platform: Platform
    state_dir: str


class Collector:
    name: ClassVar[str]
    help: ClassVar[str]
    options: ClassVar[tuple[Option, ...]] = ()
    default_enabled: ClassVar[bool] = True
    default_interval: ClassVar[float] = 60.0
    default_timeout: ClassVar[float] = 10.0
    # Checks across the collector's options once each is valid (its timeout against its own work,
    # say); raises agent.options.InvalidSettingError. Optional.
    check_settings: ClassVar[Callable[[Settings], None] | None] = None

    def __init__(self, settings: Settings, context: Context):
        self.settings = settings
        self.context = context

    def start(self) -> None:
        """Begin background work that belongs to a long-running agent (schedulers, state kept on
        disk); called by the runner's `start()`, not by a one-off `check`. Optional."""

    def collect(self) -> list[Sample]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the collector holds (sockets, subprocesses); called on stop and reload."""


def sample(name: str, value: Any, **labels: str) -> Sample:
    return Sample(name, {k: str(v) for k, v in labels.items()}, float(value))
