"""The parsed form of a runbook: what the parser produces from Markdown, what
a RunbookVersion stores (as JSON) and what the engine executes. Plain
dataclasses so the parser, the engine and the pages share one vocabulary."""
from dataclasses import asdict, dataclass, field

KINDS = ("runbook", "playbook", "checklist")
PARAM_TYPES = ("string", "int", "choice", "bool", "secret")   # secret: a string masked wherever it is shown
# Step kinds after aliasing (bash, sh, console -> shell).
STEP_KINDS = ("shell", "http", "promql", "wait", "approval", "manual")
SHELL_ALIASES = ("shell", "bash", "sh", "console")
# A drill's targets (front matter `targets:`, in seconds; drills.py measures them):
# detection counts from the fault's injection (T0), recovery from T0 or, with
# `recovery_from: fault_removed`, from the fault's removal (T1).
TARGET_NAMES = ("detection", "recovery")
RECOVERY_FROM = ("fault_injected", "fault_removed")
# What a drill run records: the step with marks=<event>, else a checklist item "<Label>: ...".
DRILL_EVENTS = ("fault_injected", "fault_removed", "detected", "recovered")


@dataclass
class Parameter:
    name: str
    type: str = "string"           # one of PARAM_TYPES
    default: object = None
    required: bool = False
    pattern: str | None = None     # strings: every value must match (re.fullmatch)
    choices: list = field(default_factory=list)
    description: str = ""
    shell: bool = False            # used in a shell step: validate refuses line breaks
    line: int = 0                  # where the front matter declares it


@dataclass
class Phase:
    index: int
    title: str                      # heading text without the budget, e.g. "Immediate actions"
    heading: str                    # the heading as written, e.g. "Immediate actions (0-5 min)"
    budget_start_min: float | None = None
    budget_end_min: float | None = None
    line: int = 0
    text: str = ""                  # Markdown of the phase that precedes none of its steps
    parallel: bool = False          # "{parallel}" on the heading: runs alongside open checklist items


@dataclass
class Step:
    index: int                      # 0-based position in the runbook
    kind: str                       # one of STEP_KINDS
    title: str
    body: str                       # the code block's text (command, request, query, gate text, checklist item)
    attrs: dict = field(default_factory=dict)   # every key=value of the info string, as written
    explanation: str = ""           # Markdown prose before the step
    phase: int | None = None        # Phase.index
    line: int = 0                   # 1-based line of the fence / list item in the source
    # Normalised attributes the engine uses (defaults filled in by the parser):
    auto: bool = False              # runs without a click
    confirm: bool = False           # needs an explicit confirmation click even when auto
    timeout: float = 60.0           # seconds
    on_failure: str = "stop"        # stop | continue | report (a diagnostic: see step_attributes)
    retries: int = 0
    queue: str | None = None        # Celery queue (environment); None = default
    expect: str | None = None       # shell: regex; http: text; promql: comparison; wait: condition
    params: list = field(default_factory=list)  # names of {{ parameters }} used
    expect_status: int | None = None  # http: the status that counts as success (None: any 2xx)
    method: str | None = None       # http: GET, POST, ... (from the request line)
    ttl: float | None = None        # approval: seconds until the request expires (None: never)
    hold_for: float | None = None   # wait: seconds to sleep (empty body) or that the condition must hold
    interval: float | None = None   # wait: seconds between evaluations of the condition
    parallel: bool = False          # parallel=true: not held back by open checklist items before it
    memory: str | None = None       # shell: limits of the step's processes (None: the queue's or the default)
    processes: int | None = None
    file_size: str | None = None


@dataclass
class RunbookDocument:
    slug: str
    title: str
    kind: str = "runbook"
    services: list = field(default_factory=list)
    alerts: list = field(default_factory=list)
    severity: str | None = None
    owner: str = ""
    tags: list = field(default_factory=list)
    description: str = ""           # Markdown before the first phase / step
    parameters: list = field(default_factory=list)   # [Parameter]
    phases: list = field(default_factory=list)       # [Phase]
    steps: list = field(default_factory=list)        # [Step]
    epilogue: str = ""              # Markdown after the last step when there are no phases
    targets: dict = field(default_factory=dict)      # a drill's targets in seconds (front matter targets:)
    imported: bool = False          # parsed leniently from a plain Markdown runbook
    metadata: dict = field(default_factory=dict)   # imported: the file's own front matter (Hugo weight, ...), kept

    def to_json(self):
        return asdict(self)

    @classmethod
    def from_json(cls, data):
        data = dict(data)
        data["parameters"] = [Parameter(**p) for p in data.get("parameters", [])]
        data["phases"] = [Phase(**p) for p in data.get("phases", [])]
        data["steps"] = [Step(**s) for s in data.get("steps", [])]
        return cls(**data)


@dataclass
class Problem:
    """A lint/parse problem with its place in the file."""

    path: str
    line: int
    message: str
    severity: str = "error"         # error | warning

    def __str__(self):
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"
