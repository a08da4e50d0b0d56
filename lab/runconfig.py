"""What a run is asked to do: the configuration of a load run, its faults and the SC4 experiment.

Each model checks itself once, when it is built (`build()` turns the first
problem into a LabError naming the option), and is frozen afterwards: every
step of a run reads the same configuration, and the run folder records it
as it was. A variation (another strategy) is a new model, never a mutation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lab.config import default_api_workers
from lab.errors import LabError
from lab.scenarios import load_scenarios
from lab.targets import choose_target
from lab.verdicts import DEFAULT_THRESHOLDS

Strategy = Literal["pull", "push", "hybrid"]
STRATEGIES: tuple[str, ...] = ("pull", "push", "hybrid")
Shape = Literal["ramp", "steady", "spike"]
SHAPES: tuple[str, ...] = ("ramp", "steady", "spike")
# Each shape's stages: (until this fraction of the run time, this fraction of the users).
SHAPE_STAGES: dict[str, tuple[tuple[float, float], ...]] = {
    "ramp": tuple(((i + 1) / 10, (i + 1) / 10) for i in range(10)),
    "steady": ((1.0, 1.0),),
    "spike": ((0.4, 0.2), (0.6, 1.0), (1.0, 0.2)),
}
# The measurement window starts this long after the spawn ramp (at most a tenth of the run):
# the load has arrived, but caches, pools and plans are still settling.
SETTLE_S = 10.0

FAULT_KINDS = {
    "restart-db": "PostgreSQL stopped (fast shutdown) and started again",
    "kill-backends": "every session on the run database terminated",
    "pool-exhaust": "an exclusive lock on users holds every pool connection",
    "lock-row": "a row lock held on the hot row (the viral tweet)",
}
FaultKind = Literal["restart-db", "kill-backends", "pool-exhaust", "lock-row"]
DEFAULT_FAULT_START_S = 30.0
DEFAULT_FAULT_HOLD_S = {"restart-db": 0.0, "kill-backends": 0.0, "pool-exhaust": 10.0,
                        "lock-row": 1.0}
FAULT_SPEC = re.compile(r"^(?P<kind>[a-z-]+)(?:@(?P<start>\d+(?:\.\d+)?)s?)?"
                        r"(?:\+(?P<hold>\d+(?:\.\d+)?)s?)?$")

# The SC4 experiment: paths clients take to the database, how they pace, what they ask.
PATHS = ("direct", "api", "pgbouncer")
MODES = ("paced", "saturating")
WORKLOAD_QUERIES = ("home_timeline", "profile", "mixed")
DEFAULT_LEVELS = (10, 50, 100, 250, 500, 1000)
DEFAULT_PACE_PER_S = 0.25     # one request every 4 s per client: the mixed scenario's think time
DEFAULT_SEED = 42             # the dataset's random seed
DEFAULT_WORKERS_WAIT_S = 120  # how long a master with --master-bind waits for its workers
LOCUST_MASTER_PORT = 5557     # Locust's own default


def master_address(text: str) -> tuple[str, int]:
    """(host, port) of `HOST[:PORT]`, Locust's master port by default."""
    host, colon, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host or (colon and not port.isdigit()) or (port and not 0 < int(port) < 65536):
        raise ValueError(f"--master-bind {text!r}: use HOST or HOST:PORT, e.g. 10.0.0.4:5557")
    return host, int(port) if port else LOCUST_MASTER_PORT


def check_strategy(strategy: str) -> str:
    """A timeline strategy named by an option, checked (every command uses this one)."""
    if strategy not in STRATEGIES:
        raise LabError(f"--strategy {strategy!r}: use pull, push or hybrid")
    return strategy


class Frozen(BaseModel):
    """A configuration model: unknown fields refused, immutable once built."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def build(cls, **values: Any) -> Self:
        """Validate `values` once; the first problem becomes a LabError naming the option."""
        try:
            return cls(**values)
        except ValidationError as exc:
            error = exc.errors()[0]
            message = str(error["msg"]).removeprefix("Value error, ")
            where = ".".join(str(part) for part in error["loc"])
            raise LabError(message if message.startswith("--") else
                           f"{where}: {message}") from None


class FaultSpec(Frozen):
    """One fault to inject: which, how long into the load, for how long."""

    kind: FaultKind
    start_s: float = Field(ge=0)
    hold_s: float = Field(ge=0)

    @property
    def label(self) -> str:
        hold = f"+{self.hold_s:g}s" if self.hold_s else ""
        return f"{self.kind}@{self.start_s:g}s{hold}"

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """Read `kind[@START][+HOLD]`, e.g. restart-db@30s or pool-exhaust@20s+5s."""
        match = FAULT_SPEC.match(text.strip())
        if not match or match["kind"] not in FAULT_KINDS:
            raise ValueError(f"--fault {text!r}: use KIND[@START][+HOLD] with KIND one of "
                             f"{', '.join(FAULT_KINDS)} (e.g. restart-db@30s, pool-exhaust@20s+5s)")
        kind = match["kind"]
        start = float(match["start"]) if match["start"] else DEFAULT_FAULT_START_S
        hold = float(match["hold"]) if match["hold"] else DEFAULT_FAULT_HOLD_S[kind]
        return cls(kind=kind, start_s=start, hold_s=hold)


class ConnectionsConfig(Frozen):
    """The SC4 experiment: one workload at rising concurrency over each path and mode."""

    levels: tuple[int, ...] = DEFAULT_LEVELS
    duration_s: int = Field(20, ge=1)
    # Every level is measured this many times, interleaved, and judged on medians.
    rounds: int = Field(1, ge=1)
    paths: tuple[str, ...] = PATHS
    modes: tuple[str, ...] = MODES
    query: str = "home_timeline"
    pace_per_s: float = DEFAULT_PACE_PER_S
    # The API path's workers; PgBouncer gets as many server sessions as their pools together.
    api_workers: int = Field(default_factory=default_api_workers, ge=1)

    @field_validator("levels")
    @classmethod
    def _levels(cls, levels: tuple[int, ...]) -> tuple[int, ...]:
        if not levels or any(level < 1 for level in levels):
            raise ValueError("--levels: give client counts >= 1, e.g. 10,50,100")
        return tuple(sorted(set(levels)))

    @field_validator("paths", "modes")
    @classmethod
    def _known(cls, chosen: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        known = PATHS if info.field_name == "paths" else MODES
        if not chosen or any(x not in known for x in chosen):
            raise ValueError(f"--{info.field_name} {','.join(chosen)!r}: choose from "
                             f"{', '.join(known)}")
        return chosen

    @field_validator("query")
    @classmethod
    def _query(cls, query: str) -> str:
        if query not in WORKLOAD_QUERIES:
            raise ValueError(f"--query {query!r}: use one of {', '.join(WORKLOAD_QUERIES)}")
        return query

    @field_validator("pace_per_s")
    @classmethod
    def _pace(cls, pace: float) -> float:
        if pace <= 0:
            raise ValueError("--pace must be above 0 requests/s per client")
        return pace


class RunConfig(Frozen):
    """One load run: the scenario and its load, the dataset, the target's set-up, the verdict."""

    scenario: str = "mixed"
    users: int = Field(1000, ge=1)
    spawn_rate: float = Field(100.0, gt=0)
    run_time_s: int = Field(120, ge=1)
    scale: str = "small"
    seed: int = DEFAULT_SEED
    strategy: Strategy = "push"
    db: str | None = None
    api_workers: int = Field(default_factory=default_api_workers, ge=1)
    locust_workers: int = Field(0, ge=0)
    tag: str = ""
    shape: Shape | None = None
    thresholds: dict[str, float] = Field(default_factory=dict)
    strict: bool = False
    reports_dir: Path = Path("reports")
    keep_database: bool = False
    connection_experiment: ConnectionsConfig | None = None   # also run SC4 after the load
    # False: skip the scenario's declared connection check and leave SC4 out of scope (a
    # capacity step measures the load, not the connection limit).
    connection_check: bool = True
    faults: tuple[FaultSpec, ...] = ()
    settle_s: float | None = Field(None, ge=0)   # None: SETTLE_S, or a tenth of a short run
    before_load: tuple[str, ...] = ()   # SQL run on the fresh copy first: a what-if experiment
    target: str | None = None           # the base URL of an API the lab did not start
    # Where the Locust master listens for workers from other machines (HOST:PORT); None:
    # the workers are forked here and join over loopback.
    master_bind: str | None = None
    workers_wait_s: int = Field(DEFAULT_WORKERS_WAIT_S, ge=1)
    profile: bool = False               # py-spy the API workers and Locust (lab.load.profiling)

    @property
    def ramp_s(self) -> float:
        """How long spawning the first stage's users takes (all users without a shape)."""
        share = SHAPE_STAGES[self.shape][0][1] if self.shape else 1.0
        return max(1, round(self.users * share)) / self.spawn_rate

    @property
    def warmup_s(self) -> float:
        """The warm-up after the first request: the spawn ramp, then the settling time.
        Criteria judge what follows (the measurement window); the warm-up is reported apart."""
        settle = self.settle_s if self.settle_s is not None else min(SETTLE_S,
                                                                     self.run_time_s / 10)
        return self.ramp_s + settle

    @model_validator(mode="before")
    @classmethod
    def _scenario_connection_check(cls, values: Any, info: ValidationInfo) -> Any:
        """A scenario that declares a connection check (the seed's acceptance run) runs it
        after its load unless the run names its own experiment; the experiment's API path
        has the run's API workers."""
        if not isinstance(values, dict) or (info.context and info.context.get("recorded")):
            return values
        experiment = values.get("connection_experiment")
        if experiment is None and values.get("connection_check") is False:
            return values
        if experiment is None:
            scenario = load_scenarios().get(values.get("scenario", "mixed"))
            if scenario is None or not scenario.connection_check:
                return values
            experiment = {k: tuple(v) if isinstance(v, list) else v
                          for k, v in scenario.connection_check.items()}
        workers = values.get("api_workers") or default_api_workers()
        experiment = (experiment.model_copy(update={"api_workers": workers})
                      if isinstance(experiment, ConnectionsConfig)
                      else ConnectionsConfig(**{**experiment, "api_workers": workers}))
        return {**values, "connection_experiment": experiment}

    @field_validator("scenario")
    @classmethod
    def _scenario(cls, name: str, info: ValidationInfo) -> str:
        if info.context and info.context.get("recorded"):
            return name     # a run folder's record: the scenario existed when it ran
        scenarios = load_scenarios()
        if name not in scenarios:
            raise ValueError(f"--scenario {name!r}: choose one of {', '.join(scenarios)}")
        return name

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy(cls, strategy: Any) -> Any:
        return check_strategy(strategy)

    @field_validator("shape", mode="before")
    @classmethod
    def _shape(cls, shape: Any) -> Any:
        if shape is not None and shape not in SHAPES:
            raise ValueError(f"--shape {shape!r}: choose one of {', '.join(SHAPES)}")
        return shape

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, thresholds: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(thresholds) - set(DEFAULT_THRESHOLDS))
        if unknown:
            raise ValueError(f"--threshold {unknown[0]}: use KEY=VALUE with KEY one of "
                             f"{', '.join(DEFAULT_THRESHOLDS)}")
        return thresholds

    @field_validator("faults", mode="before")
    @classmethod
    def _faults(cls, faults: Any) -> Any:
        return tuple(FaultSpec.parse(f) if isinstance(f, str) else f for f in faults or ())

    @model_validator(mode="after")
    def _faults_inside_the_load(self) -> Self:
        for spec in self.faults:
            if spec.start_s + spec.hold_s >= self.run_time_s:
                raise ValueError(f"--fault {spec.label}: the fault would end after the load "
                                 f"({self.run_time_s:g} s); start it earlier or run longer")
        return self

    @field_validator("target")
    @classmethod
    def _target(cls, target: str | None) -> str | None:
        return choose_target(target).url

    @model_validator(mode="after")
    def _elsewhere(self) -> Self:
        if self.target and self.before_load:
            raise ValueError("--before-load changes the run's fresh copy; a --target serves "
                             "its own database, which the lab does not copy or alter")
        if self.master_bind is not None:
            master_address(self.master_bind)
            if not self.locust_workers:
                raise ValueError("--master-bind: say how many workers to wait for with "
                                 "--locust-workers N")
        return self

    def varied(self, **changes: Any) -> RunConfig:
        """This configuration with some options changed, checked again."""
        return RunConfig.build(**{**self.model_dump(), **changes})
