"""What the incidents app tells other apps. Each signal is sent inside the
action's transaction, so a receiver's writes commit (or roll back) with the
change; the escalation app listens to schedule and stop its levels."""
from django.dispatch import Signal

incidents_opened = Signal()  # sender=Incident, incidents=[Incident], services={incident pk: [Service]}
status_changed = Signal()    # sender=Incident, incident=<Incident>, old=<Status>, new=<Status>
severity_changed = Signal()  # sender=Incident, incident=<Incident>, old_severity=<Severity>
commander_set = Signal()     # sender=Incident, incident=<Incident>, commander=<User> (never None), old=<User|None>
responder_added = Signal()   # sender=Incident, incident=<Incident>, responder=<User>
