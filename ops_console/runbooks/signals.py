"""What the runbook engine tells other apps. Each signal is sent inside the
transaction that changes the state, so a receiver's writes commit with it.
The incidents app listens to link runs to incidents (run.context["incident"])."""
from django.dispatch import Signal

run_started = Signal()     # sender=Run, run=<Run>
run_finished = Signal()    # sender=Run, run=<Run> (succeeded, failed or cancelled)
step_finished = Signal()   # sender=StepRun, step_run=<StepRun>
